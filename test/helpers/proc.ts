// Test helper: processes, read from /proc (procps may be missing).

import { readdirSync, readFileSync } from "node:fs";

/** Whether process `pid` still runs (a zombie has ended: it only waits to be reaped). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Every process below `pid` (through /proc/<pid>/stat's parent field), with its command line. */
export function descendants(pid: number): { pid: number; command: string }[] {
  const parent = new Map<number, number>();
  const command = new Map<number, string>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(name), Number(fields[1]));
      command.set(
        Number(name),
        readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " "),
      );
    } catch {
      // exited meanwhile
    }
  }
  const below: { pid: number; command: string }[] = [];
  for (const [p] of parent) {
    for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) {
      if (q === pid) {
        below.push({ pid: p, command: command.get(p) ?? "" });
        break;
      }
    }
  }
  return below;
}
