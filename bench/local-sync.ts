// Benchmark (not a test): a first and a no-op sync of 1,000 files in 50
// directories over the local connection, next to the floor of starting
// Node.js twice (the CLI and the helper). Prints wall time and peak memory.
//
//   npm run build && node --import tsx bench/local-sync.ts

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measure, medianOf, row } from "./util.ts";

const SAFCM = new URL("../bin/safcm", import.meta.url).pathname;
const DIRS = 50;
const PER_DIR = 20;

const base = mkdtempSync(join(tmpdir(), "safcm-bench-"));
try {
  const conf = join(base, "conf");
  for (let d = 0; d < DIRS; d++) {
    const dir = join(conf, "all/files/srv/data", `dir${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < PER_DIR; f++) {
      writeFileSync(join(dir, `file${f}.txt`), `directory ${d} file ${f}\n`.repeat(40), {
        mode: 0o644,
      });
    }
  }
  const hosts = (root: string) => `- name: bench\n  connection: local\n  root: ${root}\n`;
  const sync = () => measure([process.execPath, SAFCM, "sync", "-C", conf, "bench"]);

  const floor = medianOf(5, () => measure([process.execPath, "-e", "0"]));
  const firsts = [];
  for (let i = 0; i < 3; i++) {
    const root = join(base, `root${i}`);
    mkdirSync(root);
    writeFileSync(join(conf, "hosts.yaml"), hosts(root));
    firsts.push(sync());
  }
  const first = firsts.sort((a, b) => a.seconds - b.seconds)[1];
  const noop = medianOf(5, sync);

  const w = [34, 10, 12, 16];
  console.log(
    `${DIRS * PER_DIR} files in ${DIRS} directories, local connection, median of 3-5 runs`,
  );
  console.log(row(["", "wall s", "peak MiB", "x floor (2 node)"], w));
  console.log(row(["floor: node -e 0", floor.seconds.toFixed(3), floor.peakMiB.toFixed(1), ""], w));
  for (const [name, m] of [
    ["first sync", first],
    ["no-op sync", noop],
  ] as const) {
    console.log(
      row(
        [
          name,
          m.seconds.toFixed(3),
          m.peakMiB.toFixed(1),
          (m.seconds / (2 * floor.seconds)).toFixed(2),
        ],
        w,
      ),
    );
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
