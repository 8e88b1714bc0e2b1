// End-to-end: what a real checkout deploys (SPEC 3.5). A configuration is
// committed to git and cloned with umask 077, as a cautious administrator's
// shell does; the clone's private modes must not reach the host, and safcm
// warns about the private entries instead.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { safcm, snapshot, tempDir, writeTree } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir();
after(cleanup);

function git(cwd: string, ...args: string[]): void {
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.org", ...args], {
    cwd,
    stdio: "ignore",
  });
}

interface Report {
  hosts: {
    ok: boolean;
    files: {
      path: string;
      created: boolean;
      new: { mode: string };
      old: { mode: string } | null;
    }[];
  }[];
}

describe("a checkout made with umask 077", () => {
  const origin = join(dir, "origin");
  const clone = join(dir, "clone");
  const root = join(dir, "root");
  writeTree(dir, {
    "root/etc/motd": "old\n",
    "origin/hosts.yaml": `- name: h1\n  connection: local\n  root: ${root}\n`,
    "origin/all/files/etc/motd": "hello\n",
    "origin/all/files/etc/app/app.conf": "x=1\n",
    "origin/all/files/usr/local/bin/tool": { content: "#!/bin/sh\n", mode: 0o755 },
    "origin/all/files/etc/app/key": "declared\n",
    "origin/all/permissions.yaml": "/etc/app/key: 0600\n",
  });
  git(origin, "init", "-q");
  git(origin, "add", ".");
  git(origin, "commit", "-q", "-m", "configuration");
  execFileSync("/bin/sh", ["-c", 'umask 077 && git clone -q "$0" "$1"', origin, clone]);

  test("the clone really is private (the premise of the other tests)", () => {
    assert.equal(lstatSync(join(clone, "all/files")).mode & 0o777, 0o700);
    assert.equal(lstatSync(join(clone, "all/files/etc/motd")).mode & 0o777, 0o600);
    assert.equal(lstatSync(join(clone, "all/files/usr/local/bin/tool")).mode & 0o777, 0o700);
  });

  test("check warns once about the private entries without permissions.yaml and exits 0", async () => {
    const r = await safcm(["check", "-C", clone]);
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split("\n").filter((l) => l.startsWith("safcm: warning: "));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0], /"all\/files", .* and \d+ more are not readable by others/);
    assert.match(warnings[0], /deployed readable by everyone.*permissions\.yaml/);
    assert.doesNotMatch(warnings[0], /etc\/app\/key/, "a declared mode is no reason to warn");
    assert.match(r.stdout, /1 host\(s\) checked: 1 warning\(s\), 0 error\(s\)/);
  });

  test("sync -n changes no permission of / and deploys 0644/0755, like a umask 022 checkout", async () => {
    const before = snapshot(root);
    const r = await safcm(["sync", "-n", "--json", "-C", clone, "h1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /safcm: warning: .*not readable by others/,
      "the warning goes to stderr",
    );
    const report = JSON.parse(r.stdout) as Report;
    const files = new Map(report.hosts[0].files.map((f) => [f.path, f]));
    assert.equal(files.has("/"), false, "/ is not changed");
    assert.equal(files.has("/etc"), false, "/etc (0755 on the host) is not changed");
    assert.equal(files.get("/etc/motd")?.new.mode, "0644");
    assert.equal(files.get("/etc/app")?.new.mode, "0755");
    assert.equal(files.get("/etc/app/app.conf")?.new.mode, "0644");
    assert.equal(files.get("/usr/local/bin/tool")?.new.mode, "0755");
    assert.equal(files.get("/etc/app/key")?.new.mode, "0600");
    assert.deepEqual(snapshot(root), before, "dry-run changed nothing");
  });

  test("a real sync deploys what a umask 022 checkout deploys", async () => {
    const r = await safcm(["sync", "-C", clone, "h1"]);
    assert.equal(r.code, 0, r.stderr);
    const mode = (p: string) => lstatSync(join(root, p)).mode & 0o7777;
    assert.equal(mode("."), 0o755);
    assert.equal(mode("etc"), 0o755);
    assert.equal(mode("etc/motd"), 0o644);
    assert.equal(mode("etc/app"), 0o755);
    assert.equal(mode("etc/app/app.conf"), 0o644);
    assert.equal(mode("usr/local/bin/tool"), 0o755);
    assert.equal(mode("etc/app/key"), 0o600);
  });
});
