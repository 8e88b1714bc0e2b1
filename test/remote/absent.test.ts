// absent.yaml on the helper's side (SPEC 3.5, issue 20 item 1): a regular file, a
// symlink (never followed) or an empty directory at a path that must be absent is
// removed and reported as removed; a non-empty directory is an error found before any
// change; a missing path, or a missing parent, is nothing to do; a dry-run changes
// nothing; a removal fires the triggers of the paths above it.

import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { FileEntry } from "../../src/protocol/messages.ts";
import { syncFiles } from "../../src/remote/files.ts";
import { handleSync } from "../../src/remote/sync.ts";
import { removeDir, request, snapshot, tempDir, type Spec } from "./util.ts";

function absent(path: string): FileEntry {
  return { path, type: "absent", mode: 0, user: 0, group: 0 };
}

/** The request of `specs` plus the absent `paths`, sorted by path as the local side sends it. */
function withAbsent(specs: Spec[], paths: string[]): { files: FileEntry[]; data: Buffer } {
  const { files, data } = request(specs);
  const all = [...files, ...paths.map(absent)].sort((a, b) => (a.path < b.path ? -1 : 1));
  return { files: all, data };
}

function stage(root: string): void {
  chmodSync(root, 0o755);
  mkdirSync(join(root, "etc/app/empty"), { recursive: true });
  mkdirSync(join(root, "etc/app/full"));
  writeFileSync(join(root, "etc/app/full/keep"), "data\n");
  writeFileSync(join(root, "etc/app/old.conf"), "old\n");
  writeFileSync(join(root, "target"), "the link's target\n");
  symlinkSync(join(root, "target"), join(root, "etc/app/link"));
}

const SPECS: Spec[] = [{ path: "/" }, { path: "/etc" }, { path: "/etc/app" }];
const GONE = [
  "/etc/app/empty",
  "/etc/app/link",
  "/etc/app/missing",
  "/etc/app/old.conf",
  "/nodir/x",
];

test("a file, a symlink (not followed) and an empty directory are removed; missing paths are nothing to do", () => {
  const root = tempDir();
  try {
    stage(root);
    const { files, data } = withAbsent(SPECS, GONE);
    const before = snapshot(root);
    const dry = syncFiles({ root, files, data, apply: false });
    assert.equal(dry.error, null);
    assert.deepEqual(snapshot(root), before, "the dry-run changed nothing");
    const real = syncFiles({ root, files, data, apply: true });
    assert.equal(real.error, null);
    assert.deepEqual(real.changes, dry.changes);
    assert.deepEqual(
      real.changes.map((c) => [c.path, c.removed, c.old?.type]),
      [
        ["/etc/app/empty", true, "dir"],
        ["/etc/app/link", true, "symlink"],
        ["/etc/app/old.conf", true, "file"],
      ],
    );
    for (const p of ["etc/app/empty", "etc/app/link", "etc/app/old.conf"]) {
      assert.ok(!existsSync(join(root, p)), p);
    }
    assert.equal(readFileSync(join(root, "target"), "utf8"), "the link's target\n");
    assert.deepEqual(syncFiles({ root, files, data, apply: true }).changes, [], "then unchanged");
  } finally {
    removeDir(root);
  }
});

test("a non-empty directory that must be absent is an error found before any change", () => {
  const root = tempDir();
  try {
    stage(root);
    const { files, data } = withAbsent(SPECS, [...GONE, "/etc/app/full"]);
    const before = snapshot(root);
    const r = syncFiles({ root, files, data, apply: true });
    assert.equal(r.error, '"/etc/app/full": will not remove non-empty directory');
    assert.deepEqual(r.changes, []);
    assert.deepEqual(snapshot(root), before, "nothing was removed, not even the other paths");
  } finally {
    removeDir(root);
  }
});

test("a removal fires the triggers of the paths above it", async () => {
  const root = tempDir();
  try {
    stage(root);
    const { files, data } = withAbsent(SPECS, ["/etc/app/old.conf"]);
    const { response } = await handleSync(
      {
        type: "sync_request",
        dry_run: false,
        log_level: "info",
        root,
        files,
        packages: [],
        services: [],
        triggers: [{ path: "/etc/app", commands: ["echo reload"] }],
        commands: [],
      },
      data,
    );
    assert.equal(response.error, null);
    assert.deepEqual(
      response.commands.map((c) => [c.command, c.trigger, c.output]),
      [["echo reload", "/etc/app", "reload\n"]],
    );
  } finally {
    removeDir(root);
  }
});
