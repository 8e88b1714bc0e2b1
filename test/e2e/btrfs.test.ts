// New directories on a file system whose directories have a link count of 1
// (btrfs; also ceph, many FUSE file systems, isofs): a fresh directory is
// recognised as the one the helper just made by its owner, its mode and being
// empty, not by a link count of 2. Real parts: a btrfs image mounted through a
// loop device in a private mount namespace, the helper's file engine as root.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { nodeInMountNamespace } from "../helpers/proc.ts";
import { requireProgram } from "../helpers/programs.ts";
import { tempDir } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir();
after(cleanup);

test("a sync creates directories and symlinks on btrfs", (t) => {
  const mkfs = requireProgram("mkfs.btrfs", "btrfs-progs");
  const image = join(dir, "btrfs.img");
  writeFileSync(image, "");
  truncateSync(image, 128 * 1024 * 1024);
  const made = spawnSync(mkfs, ["-q", "-f", image], { encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  const mnt = join(dir, "mnt");
  mkdirSync(mnt);
  const files = [
    { path: "/", type: "dir", mode: 0o755, user: 0, group: 0 },
    { path: "/etc", type: "dir", mode: 0o755, user: 0, group: 0 },
    { path: "/etc/app", type: "dir", mode: 0o750, user: 0, group: 0 },
    {
      path: "/etc/app/conf",
      type: "file",
      mode: 0o644,
      user: 0,
      group: 0,
      data_offset: 0,
      data_length: 3,
    },
    { path: "/etc/app/current", type: "symlink", mode: 0o777, user: 0, group: 0, target: "conf" },
  ];
  const root = join(mnt, "root");
  const script = `
    import { lstatSync, mkdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
    const { syncFiles } = await import(${JSON.stringify(new URL("../../src/remote/files.ts", import.meta.url).href)});
    const root = ${JSON.stringify(root)};
    mkdirSync(root, { mode: 0o755 });
    const nlink = statSync(root).nlink;
    const r = syncFiles({ root, files: ${JSON.stringify(files)}, data: Buffer.from("a=1"), apply: true });
    const get = (f) => { try { return f(); } catch (err) { return err.code; } };
    const again = syncFiles({ root, files: ${JSON.stringify(files)}, data: Buffer.from("a=1"), apply: true });
    console.log(JSON.stringify({
      nlink,
      error: r.error,
      changed: r.changes.map((c) => c.path),
      again: [again.error, again.changes.length],
      mode: get(() => statSync(root + "/etc/app").mode & 0o7777),
      content: get(() => readFileSync(root + "/etc/app/conf", "utf8")),
      target: get(() => readlinkSync(root + "/etc/app/current")),
      symlink: get(() => lstatSync(root + "/etc/app/current").isSymbolicLink()),
    }));`;
  const { result: r, unavailable } = nodeInMountNamespace('mount -o loop "$2" "$3"', script, [
    image,
    mnt,
  ]);
  if (unavailable !== null) {
    t.skip(`cannot mount a btrfs image here: ${unavailable}`);
    return;
  }
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(out.nlink, 1, "the premise: a btrfs directory has a link count of 1");
  assert.equal(out.error, null);
  assert.deepEqual(out.changed, ["/etc", "/etc/app", "/etc/app/conf", "/etc/app/current"]);
  assert.deepEqual(out.again, [null, 0], "the second sync is a no-op");
  assert.equal(out.mode, 0o750);
  assert.equal(out.content, "a=1");
  assert.equal(out.target, "conf");
  assert.equal(out.symlink, true);
});
