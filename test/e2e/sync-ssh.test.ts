// End-to-end over SSH: the real CLI against a private sshd on 127.0.0.1
// (started by these tests with generated keys), with several host aliases.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { safcm, snapshot, tempDir, writeTree, type Node } from "../helpers/tree.ts";

let sshd: Sshd;
const cleanups: (() => void)[] = [];

before(async () => {
  sshd = await startSshd(["h1", "h2", "h3", "h4"]);
  // Aliases that fail in the ways the tests need.
  const closedPort = sshd.port === 1 ? 2 : 1;
  appendFileSync(
    sshd.config,
    [
      "Host down",
      "  HostName 127.0.0.1",
      `  Port ${closedPort}`,
      "  ConnectTimeout 5",
      "Host wrongkey",
      "  HostName 127.0.0.1",
      `  Port ${sshd.port}`,
      "  User root",
      `  IdentityFile ${join(sshd.dir, "host_ed25519")}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${join(sshd.dir, "known_hosts")}`,
      "  StrictHostKeyChecking yes",
      "Host changedkey",
      "  HostName 127.0.0.1",
      `  Port ${sshd.port}`,
      "  User root",
      `  IdentityFile ${join(sshd.dir, "client_ed25519")}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${join(sshd.dir, "known_hosts_changed")}`,
      "  StrictHostKeyChecking yes",
      "Host aliaskey",
      "  HostName 127.0.0.1",
      `  Port ${sshd.port}`,
      "  User root",
      `  IdentityFile ${join(sshd.dir, "client_ed25519")}`,
      "  IdentitiesOnly yes",
      "  HostKeyAlias web-alias",
      `  UserKnownHostsFile ${join(sshd.dir, "known_hosts_alias")}`,
      "  StrictHostKeyChecking yes",
      "Host unknownkey",
      "  HostName 127.0.0.1",
      `  Port ${sshd.port}`,
      "  User root",
      `  IdentityFile ${join(sshd.dir, "client_ed25519")}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${join(sshd.dir, "known_hosts_empty")}`,
      "  StrictHostKeyChecking ask",
      "",
    ].join("\n"),
  );
  // A known_hosts entry with another key: what a changed host key looks like.
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(sshd.dir, "other_key")]);
  writeFileSync(
    join(sshd.dir, "known_hosts_changed"),
    `[127.0.0.1]:${sshd.port} ${readFileSync(join(sshd.dir, "other_key.pub"), "utf8")}`,
  );
  writeFileSync(
    join(sshd.dir, "known_hosts_alias"),
    `web-alias ${readFileSync(join(sshd.dir, "other_key.pub"), "utf8")}`,
  );
});
after(async () => {
  cleanups.forEach((c) => c());
  // undefined when the set-up failed: then there is nothing to stop
  await (sshd as Sshd | undefined)?.stop();
});

interface Fixture {
  conf: string;
  roots: Record<string, string>;
  run: (...args: string[]) => ReturnType<typeof safcm>;
}

/** A configuration directory using the test sshd's client configuration; each host gets its own root. */
function fixture(
  hosts: string[],
  tree: Record<string, Node>,
  hostExtra: Record<string, string> = {},
): Fixture {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const conf = join(dir, "conf");
  const roots: Record<string, string> = {};
  const yaml = hosts.map((h) => {
    roots[h] = join(dir, `root-${h}`);
    mkdirSync(roots[h], { mode: 0o755 });
    return `- name: ${h}\n  root: ${roots[h]}\n${hostExtra[h] ?? ""}`;
  });
  const config = typeof tree["config.yaml"] === "string" ? tree["config.yaml"] : "";
  writeTree(conf, {
    ...tree,
    "hosts.yaml": yaml.join(""),
    "config.yaml": `ssh_config: ${sshd.config}\n${config}`,
  });
  return { conf, roots, run: (...args) => safcm(["sync", "-C", conf, ...args]) };
}

/**
 * A connection of its own: these aliases reach the same user, address and port as h1, so a
 * master another test left open would serve them (ssh_persist keys masters by the
 * destination, SPEC 3.1) and they would never authenticate or check the host key.
 */
const FRESH = { "config.yaml": "ssh_persist: 0\n" };

describe("sync over ssh", { concurrency: true }, () => {
  test("first sync, no-op sync and dry-run", async () => {
    const f = fixture(["h1"], {
      "all/files/etc/motd": "over ssh\n",
      "all/files/etc/d": { dir: true },
    });
    const dry = await f.run("-n", "h1");
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /\[h1\] "\/etc\/motd": created, file/);
    assert.deepEqual(readdirSync(f.roots.h1), [], "dry-run changed nothing");
    const first = await f.run("h1");
    assert.equal(first.code, 0, first.stderr);
    assert.equal(readFileSync(join(f.roots.h1, "etc/motd"), "utf8"), "over ssh\n");
    const snap = snapshot(f.roots.h1);
    const again = await f.run("--json", "h1");
    assert.equal(again.code, 0);
    assert.deepEqual(
      (JSON.parse(again.stdout) as { hosts: { files: unknown[] }[] }).hosts[0].files,
      [],
    );
    assert.deepEqual(snapshot(f.roots.h1), snap);
  });

  test("detected groups select detected_<x>/ directories and take part in groups.yaml and templates", async () => {
    const f = fixture(["h2"], {
      "config.yaml": `detect_groups: ["echo Linux", "printf ' Debian \\\\n\\\\n'"]\n`,
      "groups.yaml": "debianish: [detected_debian]\n",
      "detected_debian/files/etc/os": "debian\n",
      "debianish/files/etc/motd": "{% if groups.detected_linux %}linux{% endif %} {{ host }}\n",
      "debianish/templates.yaml": "- /etc/motd\n",
    });
    const r = await f.run("--json", "h2");
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const host = (JSON.parse(r.stdout) as { hosts: { groups: string[] }[] }).hosts[0];
    assert.deepEqual(host.groups, ["all", "debianish", "detected_debian", "detected_linux", "h2"]);
    assert.equal(readFileSync(join(f.roots.h2, "etc/os"), "utf8"), "debian\n");
    assert.equal(readFileSync(join(f.roots.h2, "etc/motd"), "utf8"), "linux h2\n");
  });

  test("a bad detected line fails the host with the line escaped", async () => {
    const f = fixture(["h3"], {
      "config.yaml": `detect_groups: ["printf 'ok\\\\nbad \\\\033[31mname\\\\n'"]\n`,
      "all/files/x": "x\n",
    });
    const r = await f.run("h3");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /invalid group name "bad \\x1b\[31mname"/);
    assert.ok(!r.stdout.includes("\x1b"), "no raw ESC reaches the terminal");
    assert.deepEqual(readdirSync(f.roots.h3), []);
  });

  test("an unreachable host fails alone; -j 1 syncs the others one at a time", async () => {
    const f = fixture(["h1", "down", "h4"], { "all/files/x": "x\n" });
    const r = await f.run("-j", "1", "all");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[down\] error: ssh failed: .*(refused|connect)/i);
    assert.match(r.stdout, /3 host\(s\): 2 changed, 0 unchanged, 1 failed/);
    assert.equal(readFileSync(join(f.roots.h1, "x"), "utf8"), "x\n");
    assert.equal(readFileSync(join(f.roots.h4, "x"), "utf8"), "x\n");
  });

  test("refused authentication is a clear error for that host", async () => {
    const f = fixture(["wrongkey"], { "all/files/x": "x\n", ...FRESH });
    const r = await f.run("wrongkey");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[wrongkey\] error: ssh failed: .*Permission denied/);
  });

  test("a changed host key is refused with ssh's own words", async () => {
    const f = fixture(["changedkey"], { "all/files/x": "x\n", ...FRESH });
    const r = await f.run("changedkey");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[changedkey\] error: ssh failed: Host key verification failed/);
    // The hint names the known_hosts file in use and the name the key is kept under (issue 19).
    const file = join(sshd.dir, "known_hosts_changed");
    assert.ok(
      r.stdout.includes(
        `the host key of changedkey has changed; if that is expected, remove the old key ` +
          `(ssh-keygen -f "${file}" -R "[127.0.0.1]:${sshd.port}") and run "ssh -F ${sshd.config} changedkey" once`,
      ),
      r.stdout,
    );
    assert.deepEqual(readdirSync(f.roots.changedkey), []);
  });

  test("a changed host key kept under a HostKeyAlias: the hint's command removes exactly that entry", async () => {
    const f = fixture(["aliaskey"], { "all/files/x": "x\n", ...FRESH });
    const r = await f.run("aliaskey");
    assert.equal(r.code, 1);
    const file = join(sshd.dir, "known_hosts_alias");
    const m = /remove the old key \(ssh-keygen -f "([^"]+)" -R "([^"]+)"\)/.exec(r.stdout);
    assert.ok(m !== null, r.stdout);
    assert.deepEqual([m[1], m[2]], [file, "web-alias"]);
    assert.match(readFileSync(file, "utf8"), /^web-alias /);
    execFileSync("ssh-keygen", ["-f", m[1], "-R", m[2]], { stdio: "ignore" });
    assert.doesNotMatch(readFileSync(file, "utf8"), /web-alias/, "the old key is gone");
  });

  test("an unknown host key says to run ssh <host> once", async () => {
    const f = fixture(["unknownkey"], { "all/files/x": "x\n", ...FRESH });
    const r = await f.run("unknownkey");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[unknownkey\] error: ssh failed: Host key verification failed/);
    assert.match(r.stdout, /run "ssh -F \S+ unknownkey" once to check and accept it/);
    assert.deepEqual(readdirSync(f.roots.unknownkey), []);
  });

  test("ssh_user is passed to ssh as the login user", async () => {
    const f = fixture(["h4"], { "all/files/x": "x\n" }, { h4: "  ssh_user: nosuchuser\n" });
    const r = await f.run("h4");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[h4\] error: ssh failed: .*Permission denied/);
  });

  test("remote log lines arrive with the host's name in front at the chosen log level", async () => {
    const f = fixture(["h1", "h2"], { "all/files/etc/motd": "x\n" });
    const quiet = await f.run("-n", "all");
    assert.doesNotMatch(quiet.stderr, /verbose:/);
    const r = await f.run("-l", "verbose", "all");
    assert.equal(r.code, 0, r.stderr);
    for (const h of ["h1", "h2"]) {
      assert.match(
        r.stderr,
        new RegExp(`^\\[${h}\\] verbose: .*/etc/motd`, "m"),
        `a line of ${h} from its helper`,
      );
    }
  });

  test("a connection killed in the middle of a sync fails the host with a clear error", async () => {
    // The detect command kills the helper's parent (sshd's session process for this connection).
    // Without a master connection (ssh_persist: 0): a master's sshd process serves every
    // session to h1, and the other tests of this file use h1 at the same time.
    const f = fixture(["h1"], {
      "config.yaml": `ssh_persist: 0\ndetect_groups: ["kill -9 $(awk '{print $4}' /proc/$PPID/stat); sleep 5"]\n`,
      "all/files/x": "x\n",
    });
    const r = await f.run("h1");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[h1\] error: .*(connection closed|ssh failed)/);
    assert.deepEqual(readdirSync(f.roots.h1), []);
  });

  test("a helper killed in the middle of a sync fails the host with a clear error", async () => {
    const f = fixture(["h2"], {
      "config.yaml": `ssh_persist: 0\ndetect_groups: ["kill -9 $PPID"]\n`,
      "all/files/x": "x\n",
    });
    const r = await f.run("h2");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\[h2\] error: connection closed unexpectedly/);
  });

  test("a host whose node points at a missing executable says what is missing and suggests the bundled runtime", async () => {
    const f = fixture(
      ["h3"],
      { "all/files/x": "x\n" },
      { h3: "  node: /nonexistent/node\n  runtime: host\n" },
    );
    const r = await f.run("h3");
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /Node\.js \("\/nonexistent\/node"\) not found on the host; use "runtime: auto" or "bundled"/,
    );
    // The distribution's package is too old on Debian 11 and Ubuntu 22.04 (issue 19).
    assert.doesNotMatch(r.stdout, /apt-get install nodejs/);
  });
});
