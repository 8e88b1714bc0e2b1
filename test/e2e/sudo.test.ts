// sudo: true against the test sshd, with real unprivileged users created here:
// one that sudo allows without a password (a NOPASSWD rule in
// /etc/sudoers.d/, removed afterwards) and one for which sudo would ask.

import assert from "node:assert/strict";
import { lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loginUser, loginUsersConfig, startSshd, type Sshd } from "../helpers/sshd.ts";
import { safcm, tempDir, writeTree } from "../helpers/tree.ts";

const ALLOWED = `safcm-sudo-ok${process.pid % 10000}`;
const PROMPTED = `safcm-sudo-pw${process.pid % 10000}`;
const SUDOERS = `/etc/sudoers.d/safcm-test-${process.pid}`;

let sshd: Sshd;
const removeUsers: (() => void)[] = [];
const tmp = tempDir();

before(async () => {
  // The test's sshd reads one authorized_keys file for root; these users get their own.
  sshd = await startSshd(["s1"], loginUsersConfig([ALLOWED, PROMPTED]));
  removeUsers.push(loginUser(sshd, ALLOWED), loginUser(sshd, PROMPTED));
  writeFileSync(SUDOERS, `${ALLOWED} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
});

after(async () => {
  rmSync(SUDOERS, { force: true });
  removeUsers.forEach((remove) => remove());
  await sshd.stop();
  tmp.cleanup();
});

function fixture(name: string, host: string): { conf: string; root: string } {
  const conf = join(tmp.dir, `conf-${name}`);
  const root = join(tmp.dir, `root-${name}`);
  mkdirSync(root);
  writeTree(conf, {
    // No connection reuse: its sessions would outlive the users this file deletes.
    "config.yaml": `ssh_config: ${sshd.config}\nssh_persist: 0\n`,
    "hosts.yaml": `- name: s1\n  root: ${root}\n${host}`,
    "all/files/etc/motd": "through sudo\n",
    "all/files/etc/app": { dir: true },
  });
  return { conf, root };
}

describe("sudo", () => {
  test("a login user with a NOPASSWD rule: the helper runs as root and files are owned by root", async () => {
    // The login itself is not root: the same fixture without sudo cannot write the root-owned tree.
    const plain = fixture("plain", `  ssh_user: ${ALLOWED}\n`);
    const refused = await safcm(["sync", "-C", plain.conf, "s1"]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stdout, /\[s1\] error: .*(EPERM|EACCES)/i);

    const f = fixture("allowed", `  ssh_user: ${ALLOWED}\n  sudo: true\n`);
    const r = await safcm(["sync", "-C", f.conf, "--json", "s1"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const host = (
      JSON.parse(r.stdout) as { hosts: { files: { path: string; new: { user: string } }[] }[] }
    ).hosts[0];
    assert.deepEqual(
      host.files.map((c) => [c.path, c.new.user]),
      [
        ["/etc", "root"],
        ["/etc/app", "root"],
        ["/etc/motd", "root"],
      ],
    );
    const motd = lstatSync(join(f.root, "etc/motd"));
    assert.equal(motd.uid, 0);
    assert.equal(motd.gid, 0);
    assert.equal(readFileSync(join(f.root, "etc/motd"), "utf8"), "through sudo\n");
  });

  test("sudo: true in config.yaml is the default for every host", async () => {
    const f = fixture("default", `  ssh_user: ${ALLOWED}\n`);
    writeFileSync(
      join(f.conf, "config.yaml"),
      `ssh_config: ${sshd.config}\nssh_persist: 0\nsudo: true\n`,
    );
    const r = await safcm(["sync", "-C", f.conf, "s1"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(lstatSync(join(f.root, "etc/motd")).uid, 0);
  });

  test("a user whose sudo asks for a password fails with one sentence saying how to allow it", async () => {
    const f = fixture("prompted", `  ssh_user: ${PROMPTED}\n  sudo: true\n`);
    const r = await safcm(["sync", "-C", f.conf, "s1"]);
    assert.equal(r.code, 1);
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("[s1] error:"));
    assert.equal(lines.length, 1, r.stdout);
    assert.match(
      lines[0],
      new RegExp(
        `sudo on this host asks ${PROMPTED} for a password.*"${PROMPTED} ALL=\\(root\\) NOPASSWD: ALL".*or log in as root`,
      ),
    );
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("[s1]")).length, 1, r.stdout);
    assert.throws(() => lstatSync(join(f.root, "etc")), "nothing was synced");
  });

  test("sudo with connection: local", async () => {
    // safcm runs as root here, for which sudo -n needs no password: the helper still starts through sudo.
    const conf = join(tmp.dir, "conf-local");
    const root = join(tmp.dir, "root-local");
    mkdirSync(root);
    writeTree(conf, {
      "hosts.yaml": `- name: here\n  connection: local\n  sudo: true\n  root: ${root}\n`,
      "all/files/etc/motd": "local sudo\n",
    });
    const r = await safcm(["sync", "-C", conf, "-l", "debug", "here"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(readFileSync(join(root, "etc/motd"), "utf8"), "local sudo\n");
    // Without sudo in PATH the error names sudo, so it really went through it.
    const noSudo = await safcm(["sync", "-C", conf, "here"], {
      env: { ...process.env, PATH: "/nonexistent" },
    });
    assert.equal(noSudo.code, 1);
    assert.match(noSudo.stdout, /sudo/);
  });
});
