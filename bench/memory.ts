// Benchmark (not a test): peak memory of the local side for 50 hosts x 1,000
// files (local connections, each host into its own root), first and no-op sync.
//
//   npm run build && node --import tsx bench/memory.ts

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measure, row } from "./util.ts";

const SAFCM = new URL("../bin/safcm", import.meta.url).pathname;
const HOSTS = Number(process.env.HOSTS ?? 50);
const FILES = Number(process.env.FILES ?? 1000);

const base = mkdtempSync(join(tmpdir(), "safcm-bench-"));
try {
  const conf = join(base, "conf");
  for (let i = 0; i < FILES; i++) {
    const dir = join(conf, "all/files/srv/data", `dir${i % 50}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file${i}.txt`), `file ${i}\n`.repeat(100), { mode: 0o644 });
  }
  const hosts = Array.from({ length: HOSTS }, (_, h) => {
    const root = join(base, `root${h}`);
    mkdirSync(root);
    return `- name: host${h}\n  connection: local\n  root: ${root}\n`;
  });
  writeFileSync(join(conf, "hosts.yaml"), hosts.join(""));
  const w = [30, 10, 12];
  console.log(`${HOSTS} hosts x ${FILES} files, local connections, -j 32`);
  console.log(row(["", "wall s", "peak MiB"], w));
  for (const kind of ["first sync", "no-op sync"]) {
    const m = measure([process.execPath, SAFCM, "sync", "-C", conf, "all"]);
    console.log(row([kind, m.seconds.toFixed(2), m.peakMiB.toFixed(1)], w));
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
