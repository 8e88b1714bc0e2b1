// Shared by the benchmarks: run a command under /usr/bin/time for wall time and peak memory.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Measure {
  seconds: number;
  /** Peak resident memory of the command in MiB (NaN without /usr/bin/time). */
  peakMiB: number;
}

const TIME = "/usr/bin/time";

/** Runs argv, fails loudly on a non-zero exit, returns wall time and peak memory. */
export function measure(argv: string[], env: NodeJS.ProcessEnv = process.env): Measure {
  const withTime = existsSync(TIME);
  const start = process.hrtime.bigint();
  const r = spawnSync(withTime ? TIME : argv[0], withTime ? ["-f", "%M", ...argv] : argv.slice(1), {
    encoding: "utf8",
    env,
    maxBuffer: 1024 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0)
    throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const kib = withTime ? Number(r.stderr.trim().split("\n").at(-1)) : NaN;
  return { seconds, peakMiB: kib / 1024 };
}

/** The measurement with the median time. */
export function medianMeasure(all: Measure[]): Measure {
  const sorted = [...all].sort((a, b) => a.seconds - b.seconds);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Runs fn `runs` times and keeps the run with the median time. */
export function medianOf(runs: number, fn: () => Measure): Measure {
  return medianMeasure(Array.from({ length: runs }, fn));
}

export function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padEnd(widths[i] ?? 12)).join(" ");
}

/** `files` small files (about 400 bytes each) in 10 directories below <conf>/all/files/srv/data. */
export function writeDataTree(conf: string, files: number): void {
  for (let i = 0; i < files; i++) {
    const dir = join(conf, "all/files/srv/data", `dir${i % 10}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file${i}.txt`), `file ${i}\n`.repeat(50), { mode: 0o644 });
  }
}

/** Closes the ssh masters that syncs with XDG_RUNTIME_DIR=runtimeDir left open. */
export function closeMasters(runtimeDir: string): void {
  const dir = join(runtimeDir, "safcm-ssh");
  for (const socket of existsSync(dir) ? readdirSync(dir) : []) {
    spawnSync("ssh", ["-O", "exit", "-S", join(dir, socket), "x"], { stdio: "ignore" });
  }
}
