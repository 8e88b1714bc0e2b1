// Benchmark (not a test): sync 200 files to 1 and to 8 host aliases of a
// private loopback sshd (each host into its own directory), first and no-op
// run, next to the floor measured in the same run: `ssh <alias> true` and
// `ssh <alias> node -e 0` (for 8 hosts: 8 of them in parallel). These rows are
// cold (ssh_persist: 0, a new SSH connection each time); the last row is the
// warm no-op of 1 host, whose connection an earlier sync left open
// (ssh_persist: 60), against the cold `ssh <alias> node -e 0` floor.
//
// Root's ~/.bashrc on these machines is slow; the benchmark's client key
// carries environment="SHLVL=1" (see test/helpers/sshd.ts), so the shell
// start-up is skipped for the floor and for safcm alike.
//
//   npm run build && node --import tsx bench/ssh-sync.ts

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startSshd } from "../test/helpers/sshd.ts";
import { closeMasters, measure, medianOf, row, writeDataTree, type Measure } from "./util.ts";

const SAFCM = new URL("../bin/safcm", import.meta.url).pathname;
const FILES = 200;
const RUNS = 3;
const aliases = Array.from({ length: 8 }, (_, i) => `bench${i}`);

const sshd = await startSshd(aliases, "", { opensshDefaults: true });
try {
  const conf = join(sshd.dir, "conf");
  writeDataTree(conf, FILES);
  let generation = 0;
  /** Points every alias at a fresh root (so the next sync is a first sync). */
  const freshRoots = () => {
    generation++;
    const hosts = aliases.map((a) => {
      const root = join(sshd.dir, `root-${generation}-${a}`);
      mkdirSync(root);
      return `- name: ${a}\n  root: ${root}\n`;
    });
    writeFileSync(join(conf, "hosts.yaml"), hosts.join(""));
  };
  writeFileSync(join(conf, "config.yaml"), `ssh_config: ${sshd.config}\nssh_persist: 0\n`);
  // The control sockets of the warm row, in a directory of this run.
  const runtimeDir = join(sshd.dir, "run");
  mkdirSync(runtimeDir, { mode: 0o700 });
  const env = { ...process.env, XDG_RUNTIME_DIR: runtimeDir };

  const parallel = (n: number, remote: string): Measure =>
    measure([
      "bash",
      "-c",
      `for a in ${aliases.slice(0, n).join(" ")}; do ssh -F ${sshd.config} $a ${JSON.stringify(remote)} & done; wait`,
    ]);
  const sync = (targets: string[]) =>
    measure([process.execPath, SAFCM, "sync", "-C", conf, ...targets], env);

  const w = [30, 10, 10, 14, 16];
  console.log(`${FILES} files, loopback sshd, median of ${RUNS} runs`);
  console.log(row(["", "wall s", "peak MiB", "x ssh true", "x ssh node -e 0"], w));
  let floor1: Measure | null = null;
  for (const n of [1, 8]) {
    const targets = aliases.slice(0, n);
    const sshTrue = medianOf(RUNS, () => parallel(n, "true"));
    const sshNode = medianOf(RUNS, () => parallel(n, "node -e 0"));
    if (n === 1) floor1 = sshNode;
    const first = medianOf(RUNS, () => {
      freshRoots();
      return sync(targets);
    });
    const noop = medianOf(RUNS, () => sync(targets));
    const ratio = (m: Measure) => [
      (m.seconds / sshTrue.seconds).toFixed(2),
      (m.seconds / sshNode.seconds).toFixed(2),
    ];
    console.log(row([`${n} host(s): ssh true`, sshTrue.seconds.toFixed(3), "", "", ""], w));
    console.log(row([`${n} host(s): ssh node -e 0`, sshNode.seconds.toFixed(3), "", "", ""], w));
    console.log(
      row(
        [
          `${n} host(s): first sync`,
          first.seconds.toFixed(3),
          first.peakMiB.toFixed(1),
          ...ratio(first),
        ],
        w,
      ),
    );
    console.log(
      row(
        [
          `${n} host(s): no-op sync`,
          noop.seconds.toFixed(3),
          noop.peakMiB.toFixed(1),
          ...ratio(noop),
        ],
        w,
      ),
    );
  }
  // Warm: the default ssh_persist keeps the master of the first sync open.
  writeFileSync(join(conf, "config.yaml"), `ssh_config: ${sshd.config}\nssh_persist: 60\n`);
  sync(aliases.slice(0, 1));
  const warm = medianOf(RUNS * 2, () => sync(aliases.slice(0, 1)));
  const floor = floor1;
  console.log(
    row(
      [
        "1 host(s): warm no-op sync",
        warm.seconds.toFixed(3),
        warm.peakMiB.toFixed(1),
        "",
        floor === null ? "" : (warm.seconds / floor.seconds).toFixed(2),
      ],
      w,
    ),
  );
  closeMasters(runtimeDir);
} finally {
  const dir = sshd.dir;
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
}
