// Test helper: processes, read from /proc (procps may be missing).

import { readFileSync } from "node:fs";

/** Whether process `pid` still runs (a zombie has ended: it only waits to be reaped). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
