// Two syncs that find a host without the bundled runtime at the same moment
// (two administrators, a cron job next to a person, one host under two names)
// both upload it. Both must run: neither may remove or replace a runtime the
// other has just installed and is about to start, and none may end up nested
// inside the other's directory. The sh bootstrap runs here directly, as an
// unprivileged login user (uid 65534, runtime below its $HOME), with a small
// package of our own whose "node" is a shell script, so that many rounds cost
// little; the real package over ssh is test/e2e/runtime.test.ts's.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { execFileSync } from "node:child_process";
import { BOOTSTRAP_SH } from "../../src/transport/bootstrap-sh.ts";
import { finished, type Run } from "../helpers/tree.ts";

const NOBODY = 65534;
// A home whose every parent is root-owned and writable by nobody else, as the bootstrap demands.
const HOME = `/run/safcm-test-upload-${process.pid}`;
const VERSION = "0.0.1";
const BASE = join(HOME, ".cache/safcm/runtime");
const DIR = join(BASE, `${VERSION}-x64`);

after(() => rmSync(HOME, { recursive: true, force: true }));

/** A gzipped tar with package/bin/node: a script that says it ran. */
function fakePackage(): Buffer {
  const src = join(HOME, "pkg-src");
  mkdirSync(join(src, "package/bin"), { recursive: true });
  // It also says whether it inherited the bootstrap's lock (descriptor 9): it must not.
  const script =
    '#!/bin/sh\necho "fake node ran: $3"\n[ -e /proc/$$/fd/9 ] && echo "fd 9 open"\nexit 0\n';
  writeFileSync(join(src, "package/bin/node"), script, { mode: 0o755 });
  return execFileSync("tar", ["-czf", "-", "-C", src, "package"]);
}

function bootstrap(shell: string[], pkg: Buffer, sha: string, id: number): Promise<Run> {
  const child = spawn(
    shell[0],
    [
      ...shell.slice(1),
      "-c",
      BOOTSTRAP_SH,
      "safcm-bootstrap",
      "bundled",
      "node",
      VERSION,
      sha,
      sha,
      String(id),
      "",
    ],
    { uid: NOBODY, gid: NOBODY, env: { HOME, PATH: process.env.PATH ?? "/usr/bin:/bin" } },
  );
  const run = finished(child);
  child.stdin.on("error", () => undefined); // a runtime already present reads nothing
  child.stdin.end(Buffer.concat([Buffer.from(`${pkg.length}\n`), pkg]));
  return run;
}

test("concurrent first uploads of the runtime to one host all run it; it ends installed once, nothing left over", async () => {
  mkdirSync(HOME, { mode: 0o700 });
  chownSync(HOME, NOBODY, NOBODY);
  const pkg = fakePackage();
  const sha = createHash("sha512").update(pkg).digest("hex");
  for (let round = 0; round < 6; round++) {
    const shell = round % 2 === 0 ? ["dash"] : ["busybox", "sh"];
    rmSync(join(HOME, ".cache"), { recursive: true, force: true });
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => bootstrap(shell, pkg, sha, i)),
    );
    runs.forEach((r, i) => {
      const detail = `round ${round} (${shell.join(" ")}), run ${i}: ${JSON.stringify(r)}`;
      assert.equal(r.code, 0, detail);
      assert.match(
        r.stdout,
        new RegExp(
          `^(safcm-bootstrap: upload x64\n)?safcm-bootstrap: run bundled ${VERSION} (uploaded|present)\n`,
        ),
        detail,
      );
      assert.match(r.stdout, new RegExp(`fake node ran: ${i}\n$`), detail);
    });
    // One installation, no upload directories or replaced runtimes left behind.
    assert.deepEqual(readdirSync(BASE).sort(), [".lock", `${VERSION}-x64`], `round ${round}`);
    assert.deepEqual(readdirSync(DIR).sort(), ["node", "verified"], `round ${round}`);
    assert.match(readFileSync(join(DIR, "verified"), "utf8"), new RegExp(`^${sha} `));
  }
});
