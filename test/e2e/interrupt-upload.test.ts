// SIGTERM while the bundled runtime is uploaded (SPEC 5.5, 5.6; issue 19 item 9): the
// report says the sync was interrupted, not "helper exited with status 98" (the
// bootstrap's exit when the helper source it waits for never comes), and safcm exits
// 143. Over the test sshd as a fresh unprivileged user, whose runtime goes to its own
// ~/.cache/safcm/runtime: so the runtime is always uploaded, and the test touches
// nothing of this machine's /var/lib/safcm.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fetchSharedRuntime, SHARED_CACHE } from "../helpers/runtime.ts";
import { loginUser, loginUsersConfig, startSshd, type Sshd } from "../helpers/sshd.ts";
import { SAFCM, snapshot, tempDir, writeTree } from "../helpers/tree.ts";

const USER = `safcm-int${process.pid % 10000}`;
let sshd: Sshd;
let removeUser = (): void => undefined;
const tmp = tempDir();

before(async () => {
  await fetchSharedRuntime();
  sshd = await startSshd(["u1"], loginUsersConfig([USER]));
  removeUser = loginUser(sshd, USER);
});

after(async () => {
  removeUser();
  await sshd.stop();
  tmp.cleanup();
});

test("SIGTERM during the upload of the bundled runtime reports the interruption and exits 143", async () => {
  const root = join(tmp.dir, "root");
  mkdirSync(root);
  const conf = join(tmp.dir, "conf");
  writeTree(conf, {
    // No connection reuse: its session would outlive the user this file deletes.
    "config.yaml": `ssh_config: ${sshd.config}\nssh_persist: 0\n`,
    "hosts.yaml": `- name: u1\n  ssh_user: ${USER}\n  runtime: bundled\n  root: ${root}\n`,
    "all/files/etc/motd": "never\n",
  });
  const child = spawn(process.execPath, [SAFCM, "sync", "-l", "verbose", "-C", conf, "u1"], {
    env: { ...process.env, NO_COLOR: "1", XDG_CACHE_HOME: SHARED_CACHE },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  // The upload starts; the host then checks and unpacks some 50 MiB before the helper runs.
  for (let i = 0; !stderr.includes("uploading the bundled runtime"); i++) {
    assert.ok(i < 1200 && child.exitCode === null, `no upload: ${stdout}${stderr}`);
    await sleep(25);
  }
  child.kill("SIGTERM");
  const code = await exited;
  assert.equal(code, 143, stdout + stderr);
  const errors = stdout.split("\n").filter((l) => l.startsWith("[u1] error:"));
  assert.deepEqual(
    errors,
    [
      "[u1] error: interrupted while connecting (during the upload of the bundled runtime): " +
        "the helper had not started, nothing was changed",
    ],
    stdout + stderr,
  );
  assert.doesNotMatch(stdout + stderr, /status 98/);
  assert.deepEqual(Object.keys(snapshot(root)), ["."], "nothing synced");
});
