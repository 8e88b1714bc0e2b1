// Connection reuse (SPEC 3.1 ssh_persist) against the test sshd: an OpenSSH
// master left open after a sync serves the next one, and only for the same
// effective destination (user, host name, port, route); ssh_persist: 0 leaves
// none; a user's own ControlPath wins; a control directory others could use
// turns reuse off.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort } from "../helpers/net.ts";
import { loginUser, loginUsersConfig, startSshd, type Sshd } from "../helpers/sshd.ts";
import { safcm, tempDir, writeTree } from "../helpers/tree.ts";

let sshd: Sshd;
const tmp = tempDir();
/** Directories that may hold control sockets of masters this file started. */
const socketDirs: string[] = [];
/** An unprivileged user who can log in to the test sshd with the same key. */
const USER = `safcm-cp${process.pid % 10000}`;
let removeUser = (): void => undefined;
/** A second port of the same sshd. */
let port2 = 0;

before(async () => {
  port2 = await freePort();
  sshd = await startSshd(
    ["c1", "c2", "c3", "c4", "c5", "c6", "c7"],
    `Port ${port2}\n${loginUsersConfig([USER])}`,
  );
  removeUser = loginUser(sshd, USER);
  // The second port is the same server: its host key is known there too.
  const known = join(sshd.dir, "known_hosts");
  const key = readFileSync(join(sshd.dir, "host_ed25519.pub"), "utf8");
  appendFileSync(known, `[127.0.0.1]:${port2} ${key}`);
});

after(async () => {
  // Close every master this file left open.
  for (const dir of socketDirs) {
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      spawnSync("ssh", ["-O", "exit", "-S", join(dir, name), "x"], { stdio: "ignore" });
    }
  }
  await sshd.stop();
  removeUser();
  tmp.cleanup();
});

let n = 0;
function fixture(host: string, config = "", sshConfig = sshd.config) {
  const dir = join(tmp.dir, `f${++n}`);
  const root = join(dir, "root");
  mkdirSync(root, { recursive: true });
  // XDG_RUNTIME_DIR of this fixture: the control directory is <it>/safcm-ssh.
  const runtimeDir = join(dir, "run");
  mkdirSync(runtimeDir, { mode: 0o700 });
  socketDirs.push(join(runtimeDir, "safcm-ssh"));
  const conf = join(dir, "conf");
  writeTree(conf, {
    "config.yaml": `ssh_config: ${sshConfig}\n${config}`,
    "hosts.yaml": `- name: ${host}\n  root: ${root}\n`,
    "all/files/etc/motd": "one\n",
  });
  const run = () =>
    safcm(["sync", "-C", conf, "-l", "verbose", host], { env: { XDG_RUNTIME_DIR: runtimeDir } });
  return { conf, root, runtimeDir, controlDir: join(runtimeDir, "safcm-ssh"), run };
}

function sockets(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).map((e) => join(dir, e)) : [];
}

function masterAlive(socket: string): boolean {
  return spawnSync("ssh", ["-O", "check", "-S", socket, "x"], { stdio: "ignore" }).status === 0;
}

describe("connection reuse", () => {
  test("the second sync reuses the master the first left open, and works", async () => {
    const f = fixture("c1");
    const first = await f.run();
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /\[c1\] verbose: new ssh connection; it stays open 60 s after this sync/,
    );
    const [socket, ...more] = sockets(f.controlDir);
    assert.equal(more.length, 0);
    assert.ok(masterAlive(socket), "a master is running after the sync");
    const dir = f.controlDir;
    assert.equal(execFileSync("stat", ["-c", "%a %u", dir], { encoding: "utf8" }).trim(), "700 0");

    writeFileSync(join(f.conf, "all/files/etc/motd"), "two\n");
    const second = await f.run();
    assert.equal(second.code, 0, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `\\[c1\\] verbose: reusing the ssh connection an earlier sync left open \\(${socket}\\)`,
      ),
    );
    assert.equal(readFileSync(join(f.root, "etc/motd"), "utf8"), "two\n");
  });

  test("ssh_persist: 0 leaves no master behind", async () => {
    const f = fixture("c2", "ssh_persist: 0\n");
    const r = await f.run();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\[c2\] verbose: connection reuse off \(ssh_persist: 0\)/);
    assert.deepEqual(sockets(f.controlDir), []);
    const again = await f.run();
    assert.doesNotMatch(again.stderr, /reusing/);
  });

  test("a user's own ControlMaster/ControlPath in the ssh configuration wins", async () => {
    const mine = join(tmp.dir, "mine");
    mkdirSync(mine, { mode: 0o700 });
    socketDirs.push(mine);
    const config = join(tmp.dir, "user_ssh_config");
    copyFileSync(sshd.config, config);
    appendFileSync(
      config,
      `Host c3\n  ControlMaster auto\n  ControlPath ${mine}/%C\n  ControlPersist 30\n`,
    );
    const f = fixture("c3", "", config);
    const r = await f.run();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\[c3\] verbose: connection reuse as your ssh configuration says/);
    assert.deepEqual(sockets(f.controlDir), [], "safcm added no master of its own");
    const [socket] = sockets(mine);
    assert.ok(socket !== undefined && masterAlive(socket), "the user's master is running");

    // The same configuration sets nothing for c5: there safcm adds its own master.
    const other = fixture("c5", "", config);
    const r5 = await other.run();
    assert.equal(r5.code, 0, r5.stderr);
    assert.match(r5.stderr, /\[c5\] verbose: new ssh connection; it stays open 60 s/);
    assert.equal(sockets(other.controlDir).length, 1);
  });

  test("a control directory that others could use turns reuse off; the sync still works", async () => {
    for (const [mode, owner] of [
      [0o777, 0],
      [0o700, 65534],
    ]) {
      const f = fixture("c4");
      mkdirSync(f.controlDir);
      chmodSync(f.controlDir, mode);
      chownSync(f.controlDir, owner, owner);
      const r = await f.run();
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /\[c4\] verbose: connection reuse off: \S+safcm-ssh is not a directory of yours that only you can use/,
      );
      assert.deepEqual(sockets(f.controlDir), [], "no socket where others can reach it");
      assert.equal(readFileSync(join(f.root, "etc/motd"), "utf8"), "one\n");
    }
  });

  test("a changed User or Port in ssh_config, or ssh_user in hosts.yaml, never reuses the old master", async () => {
    // The helper says who it runs as and which server port it reached.
    const config = join(tmp.dir, "ssh_config-destination");
    const base = readFileSync(sshd.config, "utf8");
    writeFileSync(config, base);
    // Masters outlive a slow run of this test (the after hook closes them).
    const f = fixture("c6", "ssh_persist: 600\n", config);
    rmSync(join(f.conf, "all/files"), { recursive: true }); // USER may not write below root
    writeFileSync(
      join(f.conf, "all/commands.yaml"),
      `- ${JSON.stringify('echo "who=$(id -un) port=${SSH_CONNECTION##* }"')}\n`,
    );
    const who = (r: { stdout: string }) => /> who=(\S+) port=(\d+)/.exec(r.stdout)?.slice(1);
    const first = await f.run();
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.deepEqual(who(first), ["root", String(sshd.port)]);
    assert.match(first.stderr, /\[c6\] verbose: new ssh connection/);

    // User root -> USER in the file named by ssh_config: (only for c6).
    const c6 = (text: string) =>
      text.replace(/(Host c6\n(?: {2}.*\n)*?) {2}User root\n/, `$1  User ${USER}\n`);
    writeFileSync(config, c6(base));
    const asUser = await f.run();
    assert.equal(asUser.code, 0, asUser.stdout + asUser.stderr);
    assert.doesNotMatch(asUser.stderr, /reusing/);
    assert.deepEqual(who(asUser), [USER, String(sshd.port)], "the helper runs as the new user");
    const again = await f.run();
    assert.match(again.stderr, /\[c6\] verbose: reusing the ssh connection/);
    assert.deepEqual(who(again), [USER, String(sshd.port)]);

    // The Port: the same server, another port.
    writeFileSync(
      config,
      c6(base).replace(`Port ${sshd.port}\n  User ${USER}`, `Port ${port2}\n  User ${USER}`),
    );
    const otherPort = await f.run();
    assert.equal(otherPort.code, 0, otherPort.stdout + otherPort.stderr);
    assert.doesNotMatch(otherPort.stderr, /reusing/);
    assert.deepEqual(who(otherPort), [USER, String(port2)]);

    // ssh_user in hosts.yaml wins over the file's User: back to root.
    writeFileSync(join(f.conf, "hosts.yaml"), `- name: c6\n  root: ${f.root}\n  ssh_user: root\n`);
    const hostsUser = await f.run();
    assert.equal(hostsUser.code, 0, hostsUser.stdout + hostsUser.stderr);
    assert.doesNotMatch(hostsUser.stderr, /reusing/);
    assert.deepEqual(who(hostsUser), ["root", String(port2)]);
  });

  test("the same address behind another route (ProxyJump) is another master", async () => {
    const config = join(tmp.dir, "ssh_config-jump");
    // c7 and its twin reach the same user, address and port; the twin through c1.
    const base = readFileSync(sshd.config, "utf8");
    const c7 = /Host c7\n(?: {2}.*\n)*/.exec(base)?.[0] ?? "";
    assert.notEqual(c7, "");
    writeFileSync(config, base + c7.replace("Host c7", "Host c7jump") + "  ProxyJump c1\n");
    const direct = fixture("c7", "ssh_persist: 600\n", config);
    const first = await direct.run();
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stderr, /\[c7\] verbose: new ssh connection/);
    const jumped = fixture("c7jump", "ssh_persist: 600\n", config);
    // Both fixtures share one control directory here, as one user's syncs do.
    const run = () =>
      safcm(["sync", "-C", jumped.conf, "-l", "verbose", "c7jump"], {
        env: { XDG_RUNTIME_DIR: direct.runtimeDir },
      });
    const viaJump = await run();
    assert.equal(viaJump.code, 0, viaJump.stdout + viaJump.stderr);
    assert.match(viaJump.stderr, /\[c7jump\] verbose: new ssh connection/);
    assert.equal(sockets(direct.controlDir).length, 2);
    const again = await run();
    assert.match(again.stderr, /\[c7jump\] verbose: reusing the ssh connection/);
  });
});
