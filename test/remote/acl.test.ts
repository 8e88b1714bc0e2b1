// ACLs on managed entries (SPEC 6, issue 9 item 4), set and read back with
// the real setfacl and getfacl (package "acl", installed by scripts/setup.sh):
// a directory that an unprivileged user owned, with `u:65534:rwx` as access
// and default ACL, taken over by the configuration as `0750 root root` with
// a 0640 file inside. After the sync that user can neither list the directory
// nor read the file, getfacl shows no extended entry, the next sync is
// unchanged, and a dry-run before reports the removal.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { syncFiles, type FilesResult } from "../../src/remote/files.ts";
import { removeDir, request, snapshot, tempDir, type Spec } from "./util.ts";

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: "utf8" });
  if (r.error !== undefined) assert.fail(`${command} is missing: install the package "acl"`);
  assert.equal(r.status, 0, `${command} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Extended ACL entries (named users and groups, mask, default ACL) of `path`; [] when it has none. */
function extended(path: string): string[] {
  return run("getfacl", ["-c", "-p", path])
    .split("\n")
    .filter((l) => l !== "" && !/^(user|group|other)::/.test(l));
}

/** What uid 65534 gets when it tries to list `dir` and read `file`. */
function asNobody(dir: string, file: string): { list: string; read: string } {
  const script = `
    const fs = require("node:fs");
    const attempt = (f) => { try { f(); return "ok"; } catch (e) { return e.code; } };
    console.log(JSON.stringify({
      list: attempt(() => fs.readdirSync(${JSON.stringify(dir)})),
      read: attempt(() => fs.readFileSync(${JSON.stringify(file)})),
    }));`;
  const r = spawnSync(process.execPath, ["-e", script], {
    uid: 65534,
    gid: 65534,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { list: string; read: string };
}

const specs: Spec[] = [
  { path: "/" },
  { path: "/d", mode: 0o750 },
  { path: "/d/secret", content: "top secret\n", mode: 0o640 },
  { path: "/d/new", content: "new secret\n", mode: 0o640 },
];

function sync(root: string, apply: boolean): FilesResult {
  const { files, data } = request(specs);
  return syncFiles({ root, files, data, apply });
}

/** The host as found: /d owned by 65534 with access and default ACL for it, the secret readable through an ACL. */
function stage(root: string): { d: string; secret: string } {
  chmodSync(root, 0o755);
  const d = join(root, "d");
  const secret = join(d, "secret");
  mkdirSync(d);
  writeFileSync(secret, "top secret\n");
  chmodSync(secret, 0o640);
  run("setfacl", ["-m", "u:65534:r", secret]);
  chownSync(d, 65534, 65534);
  chmodSync(d, 0o750);
  run("setfacl", ["-m", "u:65534:rwx", "-d", "-m", "u:65534:rwx", d]);
  run("setfacl", ["-m", "u:65534:rwx", d]);
  return { d, secret };
}

test("a taken-over directory and file end with exactly their declared access, ACLs removed", () => {
  const root = tempDir();
  try {
    const { d, secret } = stage(root);
    assert.deepEqual(asNobody(d, secret), { list: "ok", read: "ok" }, "the ACLs work before");

    const before = snapshot(root);
    const dry = sync(root, false);
    assert.equal(dry.error, null);
    assert.deepEqual(
      dry.changes.map((c) => [c.path, c.acl_removed ?? false]),
      [
        ["/d", true],
        ["/d/secret", true],
        ["/d/new", false],
      ],
      "the dry-run reports the ACL removal",
    );
    assert.deepEqual(snapshot(root), before, "the dry-run changed nothing");

    const real = sync(root, true);
    assert.equal(real.error, null);
    assert.deepEqual(real.changes, dry.changes);
    for (const path of [d, secret, join(d, "new")]) assert.deepEqual(extended(path), [], path);
    assert.deepEqual(asNobody(d, secret), { list: "EACCES", read: "EACCES" });
    assert.deepEqual(asNobody(d, join(d, "new")).read, "EACCES");
    assert.deepEqual(sync(root, true).changes, [], "the next sync is unchanged");
  } finally {
    removeDir(root);
  }
});

/** For the rest of the test, PATH holds only `tools` (name -> program linked there): a host with just those. */
function onlyTools(t: TestContext, tools: Record<string, string>): void {
  const bin = tempDir();
  const path = process.env.PATH;
  for (const [name, program] of Object.entries(tools)) {
    symlinkSync(run("sh", ["-c", `command -v ${program}`]).trim(), join(bin, name));
  }
  process.env.PATH = bin;
  t.after(() => {
    process.env.PATH = path;
    removeDir(bin);
  });
}

test("an ACL that cannot be removed (no setfacl) fails that entry before any change", (t) => {
  const root = tempDir();
  try {
    stage(root);
    // A host with coreutils but without the package "acl".
    onlyTools(t, { ls: "ls" });
    const before = snapshot(root);
    const result = sync(root, true);
    assert.equal(
      result.error,
      '"/d": has an ACL (extended access entries) that cannot be removed: setfacl is missing; install the package "acl"',
    );
    assert.deepEqual(result.changes, []);
    assert.deepEqual(snapshot(root), before);
  } finally {
    removeDir(root);
  }
});

test("where ls is busybox's (no ACL mark), getfacl finds the ACLs", (t) => {
  const root = tempDir();
  try {
    const { d, secret } = stage(root);
    // A host whose ls is busybox's, with the package "acl".
    onlyTools(t, { ls: "busybox", getfacl: "getfacl", setfacl: "setfacl" });
    assert.doesNotMatch(spawnSync("ls", ["-ldn", d], { encoding: "utf8" }).stdout, /\+ /);
    const real = sync(root, true);
    assert.equal(real.error, null);
    assert.deepEqual(
      real.changes.map((c) => [c.path, c.acl_removed ?? false]),
      [
        ["/d", true],
        ["/d/secret", true],
        ["/d/new", false],
      ],
    );
    for (const p of [d, secret]) assert.deepEqual(extended(p), [], p);
    assert.deepEqual(asNobody(d, secret), { list: "EACCES", read: "EACCES" });
  } finally {
    removeDir(root);
  }
});

test("ACLs are found in a directory of more entries than one ls is given, and on unusual names", () => {
  const root = tempDir();
  try {
    chmodSync(root, 0o755);
    const many: Spec[] = [{ path: "/" }, { path: "/many" }];
    mkdirSync(join(root, "many"), 0o755);
    for (let i = 0; i < 2_100; i++) many.push({ path: `/many/f${i}`, content: `${i}\n` });
    many.push({ path: "/many/with space\nand newline", content: "odd\n" });
    for (const spec of many.slice(2)) {
      writeFileSync(join(root, spec.path), spec.content ?? "", { mode: 0o644 });
    }
    const { files, data } = request(many);
    assert.deepEqual(syncFiles({ root, files, data, apply: true }).changes, []);
    run("setfacl", ["-m", "u:65534:r", join(root, "many/f2050")]);
    run("setfacl", ["-m", "u:65534:r", join(root, "many/with space\nand newline")]);
    const result = syncFiles({ root, files, data, apply: true });
    assert.equal(result.error, null);
    assert.deepEqual(
      result.changes.map((c) => [c.path, c.acl_removed]),
      [
        ["/many/f2050", true],
        ["/many/with space\nand newline", true],
      ],
    );
    assert.deepEqual(extended(join(root, "many/f2050")), []);
    assert.deepEqual(syncFiles({ root, files, data, apply: true }).changes, []);
  } finally {
    removeDir(root);
  }
});

test("a new file never keeps an ACL inherited from a directory another user owns", () => {
  const root = tempDir();
  try {
    chmodSync(root, 0o755);
    // A directory the request does not manage (so nothing removes its ACL
    // first), owned by 65534, with a default ACL that grants 65534 read and
    // write on every new file: as if its owner added it after safcm looked.
    const home = join(root, "home");
    mkdirSync(home, 0o755);
    chownSync(home, 65534, 65534);
    run("setfacl", ["-d", "-m", "u:65534:rw", home]);
    const specs: Spec[] = [];
    for (let i = 0; i < 10; i++)
      specs.push({ path: `/home/f${i}`, content: "secret\n", mode: 0o640 });
    const { files, data } = request(specs);
    const result = syncFiles({ root, files, data, apply: true });
    assert.equal(result.error, null);
    for (let i = 0; i < 10; i++) assert.deepEqual(extended(join(home, `f${i}`)), [], `f${i}`);
    assert.equal(asNobody(home, join(home, "f0")).read, "EACCES");
  } finally {
    removeDir(root);
  }
});
