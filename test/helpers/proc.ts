// Test helper: processes, read from /proc (procps may be missing).

import { spawnSync, type SpawnSyncReturns } from "node:child_process";
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

/**
 * Runs the TypeScript module `script` (node --import tsx) as root in a private mount
 * namespace, after the shell commands `setup` (which see `args` as "$2", "$3" ...).
 * `unavailable` says why when this machine cannot make such a namespace (the caller skips).
 */
export function nodeInMountNamespace(
  setup: string,
  script: string,
  args: string[] = [],
): { result: SpawnSyncReturns<string>; unavailable: string | null } {
  const result = spawnSync(
    "unshare",
    [
      "--mount",
      "--fork",
      "sh",
      "-c",
      `${setup} && exec "$0" --import tsx --input-type=module -e "$1"`,
      process.execPath,
      script,
      ...args,
    ],
    { encoding: "utf8" },
  );
  const failedEarly =
    result.status !== 0 && result.stdout === "" && /unshare|mount|loop/.test(result.stderr);
  return { result, unavailable: failedEarly ? result.stderr.trim() : null };
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
