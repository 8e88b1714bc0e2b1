// Benchmark (not a test): sync 200 files to 1 and to 8 host aliases of a
// private loopback sshd (each host into its own directory), first and no-op
// run, next to the floor measured in the same run: `ssh <alias> true` and
// `ssh <alias> node -e 0` (for 8 hosts: 8 of them in parallel).
//
// Root's ~/.bashrc on these machines is slow; the benchmark's client key
// carries environment="SHLVL=1" (see test/helpers/sshd.ts), so the shell
// start-up is skipped for the floor and for safcm alike.
//
//   npm run build && node --import tsx bench/ssh-sync.ts

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startSshd } from "../test/helpers/sshd.ts";
import { measure, medianOf, row, type Measure } from "./util.ts";

const SAFCM = new URL("../bin/safcm", import.meta.url).pathname;
const FILES = 200;
const RUNS = 3;
const aliases = Array.from({ length: 8 }, (_, i) => `bench${i}`);

const sshd = await startSshd(aliases);
try {
  const conf = join(sshd.dir, "conf");
  for (let i = 0; i < FILES; i++) {
    const dir = join(conf, "all/files/srv/data", `dir${i % 10}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file${i}.txt`), `file ${i}\n`.repeat(50), { mode: 0o644 });
  }
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
  writeFileSync(join(conf, "config.yaml"), `ssh_config: ${sshd.config}\n`);

  const parallel = (n: number, remote: string): Measure =>
    measure([
      "bash",
      "-c",
      `for a in ${aliases.slice(0, n).join(" ")}; do ssh -F ${sshd.config} $a ${JSON.stringify(remote)} & done; wait`,
    ]);
  const sync = (targets: string[]) =>
    measure([process.execPath, SAFCM, "sync", "-C", conf, ...targets]);

  const w = [30, 10, 10, 14, 16];
  console.log(`${FILES} files, loopback sshd, median of ${RUNS} runs`);
  console.log(row(["", "wall s", "peak MiB", "x ssh true", "x ssh node -e 0"], w));
  for (const n of [1, 8]) {
    const targets = aliases.slice(0, n);
    const sshTrue = medianOf(RUNS, () => parallel(n, "true"));
    const sshNode = medianOf(RUNS, () => parallel(n, "node -e 0"));
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
} finally {
  const dir = sshd.dir;
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
}
