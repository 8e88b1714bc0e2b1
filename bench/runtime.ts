// Benchmark (not a test): the bundled runtime over a private loopback sshd.
// The one-time upload (bytes, seconds: the first sync of a host without the
// runtime), then the no-op sync of 200 files on the bundled runtime against
// the same no-op on the host's own Node.js (cold connections, ssh_persist: 0),
// and the runtime's size on the host's disk. It replaces this machine's
// /var/lib/safcm/runtime/<version>-x64 (as a first sync would).
//
//   npm run build && node --import tsx bench/runtime.ts

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RUNTIME_VERSION } from "../src/runtime/pin.ts";
import { fetchSharedRuntime, SHARED_CACHE } from "../test/helpers/runtime.ts";
import { startSshd } from "../test/helpers/sshd.ts";
import { measure, medianOf, row, writeDataTree } from "./util.ts";

const SAFCM = new URL("../bin/safcm", import.meta.url).pathname;
const FILES = 200;
const RUNS = 5;
const RUNTIME_DIR = `/var/lib/safcm/runtime/${RUNTIME_VERSION}-x64`;

await fetchSharedRuntime();
const sshd = await startSshd(["rt"], "", { opensshDefaults: true });
try {
  const conf = join(sshd.dir, "conf");
  writeDataTree(conf, FILES);
  writeFileSync(join(conf, "config.yaml"), `ssh_config: ${sshd.config}\nssh_persist: 0\n`);
  const root = join(sshd.dir, "root");
  mkdirSync(root);
  const hosts = (runtime: string) =>
    writeFileSync(join(conf, "hosts.yaml"), `- name: rt\n  root: ${root}\n  runtime: ${runtime}\n`);
  const env = { ...process.env, XDG_CACHE_HOME: SHARED_CACHE };
  const sync = () => measure([process.execPath, SAFCM, "sync", "-C", conf, "rt"], env);

  hosts("bundled");
  rmSync(RUNTIME_DIR, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  const first = spawnSync(process.execPath, [SAFCM, "sync", "-C", conf, "-l", "debug", "rt"], {
    encoding: "utf8",
    env,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const bytes = /runtime (\d+)\)/.exec(first.stderr)?.[1] ?? "?";
  if (first.status !== 0) throw new Error(first.stderr);
  const disk = execFileSync("du", ["-sb", RUNTIME_DIR], { encoding: "utf8" }).split("\t")[0];

  const bundled = medianOf(RUNS, sync);
  hosts("host");
  const own = medianOf(RUNS, sync);
  const w = [44, 12, 12];
  console.log(
    `runtime Node.js ${RUNTIME_VERSION}, ${FILES} files, loopback sshd, median of ${RUNS}`,
  );
  console.log(
    row(["first sync with the upload", `${seconds.toFixed(2)} s`, `${bytes} bytes sent`], w),
  );
  console.log(row(["runtime on the host's disk", `${disk} bytes`, ""], w));
  console.log(
    row(
      ["no-op sync, host's Node.js " + process.versions.node, `${own.seconds.toFixed(3)} s`, ""],
      w,
    ),
  );
  console.log(
    row(
      [
        "no-op sync, bundled runtime",
        `${bundled.seconds.toFixed(3)} s`,
        `${(bundled.seconds / own.seconds).toFixed(2)}x`,
      ],
      w,
    ),
  );
} finally {
  const dir = sshd.dir;
  await sshd.stop();
  rmSync(dir, { recursive: true, force: true });
}
