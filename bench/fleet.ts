// Benchmark (not a test): the workstation's side at fleet scale (issue 12).
// Every goal is one ratio, measured side by side in the same run against a
// private loopback sshd with HOSTS host aliases (all 127.0.0.1), as medians
// of RUNS runs, with ssh_persist: 0 (every sync is cold: no ssh connection
// kept alive). All hosts share one group directory ("all"), each host syncs
// into its own root.
//
//   cpu/host    safcm's own CPU (its process only, ssh children excluded; the
//               "local CPU" line of -l debug) per additional host in a no-op of
//               200 files: (CPU at 8 hosts - CPU at 1 host) / 7     goal <= 20 ms
//   1 x 1000    cold no-op / `ssh host node -e 0`                   goal <= 1.5
//   8 x 1000    cold no-op / 8 of those in parallel                 goal <= 1.3
//   100 x 200   cold no-op -j 32 / 100 of those, 32 at a time       goal <= 1.5
//   first 1000  first sync of 1 host x 1,000 files (into an empty root) /
//               the cold no-op of the same files in the same round  goal <= 1.5
//               next to it, the disk's own floor: a small program that creates,
//               writes, fsyncs and renames 1,000 files of 1 KiB in 10 new
//               directories on the same file system (its own time, without
//               its start-up), against the first sync's extra time over the no-op
//   warm 200    no-op of 1 host x 200 files over the ssh master an earlier
//               sync left open (ssh_persist: 60) / `ssh host node -e 0`
//               (cold)                                              goal <= 0.8
//
// Wall times on a shared machine move with its load: the ratios compare
// neighbours of the same run; CPU times (user + system) are printed next to them.
//
//   npm run build && node --import tsx bench/fleet.ts
//   env: RUNS (default 5), FLEET (hosts of the last case, default 100), SAFCM (the
//        bin/safcm to measure, e.g. of another checkout, for a before/after)

import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { startSshd } from "../test/helpers/sshd.ts";
import { closeMasters, row } from "./util.ts";

const SAFCM = process.env.SAFCM ?? new URL("../bin/safcm", import.meta.url).pathname;
const RUNS = Number(process.env.RUNS ?? 5);
const FLEET = Number(process.env.FLEET ?? 100);
const JOBS = 32;

const aliases = Array.from({ length: Math.max(FLEET, 8) }, (_, i) => `fleet${i}`);
const sshd = await startSshd(aliases, "", { opensshDefaults: true });

interface Run {
  wall: number;
  /** safcm's own CPU in ms (NaN for the floors). */
  cpu: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// The control sockets of the warm case, in a directory of this run.
const runtimeDir = join(sshd.dir, "run");
mkdirSync(runtimeDir, { mode: 0o700 });
const env = { ...process.env, XDG_RUNTIME_DIR: runtimeDir };

function timed(argv: string[]): Run {
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", maxBuffer: 1 << 30, env });
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  const cpu = /local CPU (\d+) ms/.exec(r.stderr);
  // A program that times itself prints "inner <seconds>".
  const inner = /^inner ([\d.]+)$/m.exec(r.stdout);
  return {
    wall: inner === null ? wall : Number(inner[1]),
    cpu: cpu === null ? NaN : Number(cpu[1]),
  };
}

/** The disk's floor for a first sync of 1,000 files: create, write, fsync, rename in 10 new
 * directories (fsynced), timed inside the program, in a fresh directory below `base`. */
function diskFloor(base: string): string[] {
  const script = `
    const fs = require("node:fs"), C = fs.constants;
    const base = process.argv[1] + "/" + process.pid;
    const data = Buffer.from("file x\\n".repeat(100));
    const start = process.hrtime.bigint();
    fs.mkdirSync(base);
    for (let d = 0; d < 10; d++) {
      const dir = base + "/dir" + d;
      fs.mkdirSync(dir);
      for (let i = d; i < 1000; i += 10) {
        const tmp = dir + "/.tmp" + i;
        const fd = fs.openSync(tmp, C.O_CREAT | C.O_EXCL | C.O_WRONLY | C.O_NOFOLLOW, 0o600);
        fs.writeSync(fd, data);
        fs.fchmodSync(fd, 0o644);
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fs.renameSync(tmp, dir + "/file" + i + ".txt");
      }
      const dfd = fs.openSync(dir, C.O_RDONLY | C.O_DIRECTORY);
      fs.fsyncSync(dfd);
      fs.closeSync(dfd);
    }
    console.log("inner " + Number(process.hrtime.bigint() - start) / 1e9);
    fs.rmSync(base, { recursive: true });`;
  return [process.execPath, "-e", script, base];
}

/** One configuration directory of n files (~1 KiB each, in 10 directories). */
function configDir(name: string, n: number, persist = 0): string {
  const conf = join(sshd.dir, name);
  for (let i = 0; i < n; i++) {
    const sub = join(conf, "all/files/srv/data", `dir${i % 10}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `file${i}.txt`), `file ${i}\n`.repeat(100), { mode: 0o644 });
  }
  writeFileSync(join(conf, "config.yaml"), `ssh_config: ${sshd.config}\nssh_persist: ${persist}\n`);
  writeFileSync(
    join(conf, "hosts.yaml"),
    aliases
      .map((a) => {
        const root = join(sshd.dir, "roots", name, a);
        mkdirSync(root, { recursive: true });
        return `- name: ${a}\n  root: ${root}\n`;
      })
      .join(""),
  );
  return conf;
}

function sync(conf: string, hosts: number): string[] {
  const jobs = ["-j", String(JOBS)];
  return [
    process.execPath,
    SAFCM,
    "sync",
    "-l",
    "debug",
    ...jobs,
    "-C",
    conf,
    ...aliases.slice(0, hosts),
  ];
}

/** `ssh host node -e 0` for the first n aliases, JOBS at a time. */
function floor(n: number): string[] {
  const list = aliases.slice(0, n).join(" ");
  return [
    "bash",
    "-c",
    `printf '%s\\n' ${list} | xargs -P ${JOBS} -I@ ssh -F ${sshd.config} @ node -e 0`,
  ];
}

interface Case {
  name: string;
  argv: string[];
  runs: Run[];
  /** Run before each timed run, not timed. */
  before?: () => void;
}

const conf200 = configDir("c200", 200);
const conf1000 = configDir("c1000", 1000);
const first1000 = configDir("f1000", 1000);
const warm200 = configDir("w200", 200, 60);
/** The first host's root of the first-sync configuration, emptied before each run. */
const emptyRoot = () => {
  const root = join(sshd.dir, "roots", "f1000", aliases[0]);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root);
};
// Each safcm case runs right after its floor.
const cases: Case[] = [
  { name: "floor 1", argv: floor(1), runs: [] },
  { name: "no-op 1000 x 1", argv: sync(conf1000, 1), runs: [] },
  { name: "first 1000 x 1", argv: sync(first1000, 1), runs: [], before: emptyRoot },
  { name: "disk: 1000 files durably", argv: diskFloor(join(sshd.dir, "roots")), runs: [] },
  { name: "no-op 200 x 1", argv: sync(conf200, 1), runs: [] },
  { name: "warm no-op 200 x 1", argv: sync(warm200, 1), runs: [] },
  { name: "floor 8", argv: floor(8), runs: [] },
  { name: "no-op 1000 x 8", argv: sync(conf1000, 8), runs: [] },
  { name: "no-op 200 x 8", argv: sync(conf200, 8), runs: [] },
  { name: `floor ${FLEET} (-P ${JOBS})`, argv: floor(FLEET), runs: [] },
  { name: `no-op 200 x ${FLEET} -j ${JOBS}`, argv: sync(conf200, FLEET), runs: [] },
];

try {
  console.log(
    `fleet benchmark; median of ${RUNS} runs, interleaved; loopback sshd; ssh_persist: 0; ${new Date().toISOString()}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  // First syncs: every later sync is a no-op.
  timed(sync(conf200, FLEET));
  timed(sync(conf1000, 8));
  // Opens the master that the warm case reuses (each warm run keeps it open again).
  timed(sync(warm200, 1));
  // Interleaved: a change of the machine's load hits every case alike.
  for (let r = 0; r < RUNS; r++) {
    for (const c of cases) {
      c.before?.();
      c.runs.push(timed(c.argv));
    }
  }

  const runs = (name: string) => cases.find((c) => c.name === name)!.runs;
  const wall = (name: string) => median(runs(name).map((r) => r.wall));
  const cpu = (name: string) => median(runs(name).map((r) => r.cpu));
  const w = [30, 10, 14, 40];
  console.log(row(["case", "wall s", "local CPU ms", "every run: wall s"], w));
  for (const c of cases) {
    const m = median(c.runs.map((r) => r.cpu));
    const all = c.runs.map((r) => r.wall.toFixed(2)).join(" ");
    console.log(row([c.name, wall(c.name).toFixed(3), Number.isNaN(m) ? "" : m, all], w));
  }
  // Each ratio is the median of the ratios of one round (case / its floor of the same round),
  // which follows the machine's load better than a ratio of two medians.
  const ratio = (name: string, floorName: string): string => {
    const each = runs(name).map((r, i) => r.wall / runs(floorName)[i].wall);
    const sorted = [...each].sort((a, b) => a - b);
    return `${median(each).toFixed(2)} (${sorted[0].toFixed(2)}-${sorted.at(-1)!.toFixed(2)})`;
  };
  const w2 = [46, 18, 8];
  console.log(row(["goal", "median (range)", "goal"], w2));
  const perHost = (cpu("no-op 200 x 8") - cpu("no-op 200 x 1")) / 7;
  console.log(
    row(["local CPU per additional host, 200 files (ms)", perHost.toFixed(1), "<= 20"], w2),
  );
  const goals: [string, string, string][] = [
    ["cold no-op 1000 x 1 / floor 1", ratio("no-op 1000 x 1", "floor 1"), "<= 1.5"],
    ["first sync 1000 x 1 / its cold no-op", ratio("first 1000 x 1", "no-op 1000 x 1"), "<= 1.5"],
    ["warm no-op 200 x 1 / floor 1 (cold)", ratio("warm no-op 200 x 1", "floor 1"), "<= 0.8"],
    ["cold no-op 1000 x 8 / floor 8", ratio("no-op 1000 x 8", "floor 8"), "<= 1.3"],
    [
      `cold no-op 200 x ${FLEET} / floor ${FLEET}`,
      ratio(`no-op 200 x ${FLEET} -j ${JOBS}`, `floor ${FLEET} (-P ${JOBS})`),
      "<= 1.5",
    ],
  ];
  for (const [name, r, goal] of goals) console.log(row([name, r, goal], w2));
  const extra = runs("first 1000 x 1").map(
    (r, i) => (r.wall - runs("no-op 1000 x 1")[i].wall) / runs("disk: 1000 files durably")[i].wall,
  );
  console.log(
    row(["(first sync - no-op) / disk floor, 1000 files", median(extra).toFixed(2), ""], w2),
  );
  console.log(
    `load average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
} finally {
  // The masters of the warm case.
  closeMasters(runtimeDir);
  const dir = sshd.dir;
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
}
