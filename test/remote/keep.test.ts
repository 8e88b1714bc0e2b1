// Directories whose mode and owner are not declared (SPEC 3.5, issue 19 item 3): an
// existing one keeps its mode, owner and ACL (one file under /var/tmp no longer turns
// it from 1777 into 0755); one the sync creates gets the defaults; one on the way that
// another user owns is reported once, as a warning naming it and its owner.

import assert from "node:assert/strict";
import { chmodSync, chownSync, lstatSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { FileEntry } from "../../src/protocol/messages.ts";
import { syncFiles } from "../../src/remote/files.ts";
import { removeDir, request, tempDir, type Spec } from "./util.ts";

function keep(files: FileEntry[], paths: string[]): FileEntry[] {
  return files.map((f) => (paths.includes(f.path) ? { ...f, keep: true } : f));
}

function run(root: string, specs: Spec[], kept: string[], apply = true) {
  const { files, data } = request(specs);
  const lines: string[] = [];
  const result = syncFiles({
    root,
    files: keep(files, kept),
    data,
    apply,
    log: (level, text) => {
      if (level === "info") lines.push(text);
    },
  });
  return { result, lines };
}

test("an existing undeclared directory keeps mode and owner; a new one gets the defaults", () => {
  const root = tempDir();
  try {
    chmodSync(root, 0o755);
    mkdirSync(join(root, "var/tmp"), { recursive: true });
    chmodSync(join(root, "var/tmp"), 0o1777);
    mkdirSync(join(root, "var/local"));
    chownSync(join(root, "var/local"), 0, 50);
    chmodSync(join(root, "var/local"), 0o2775);
    const specs: Spec[] = [
      { path: "/" },
      { path: "/var" },
      { path: "/var/local" },
      { path: "/var/local/new" },
      { path: "/var/local/new/f", content: "x\n" },
      { path: "/var/tmp" },
      { path: "/var/tmp/f", content: "y\n" },
    ];
    const kept = ["/", "/var", "/var/local", "/var/local/new", "/var/tmp"];
    const { result, lines } = run(root, specs, kept);
    assert.equal(result.error, null);
    assert.deepEqual(
      result.changes.map((c) => c.path),
      ["/var/local/new", "/var/local/new/f", "/var/tmp/f"],
    );
    const st = (p: string) => lstatSync(join(root, p));
    assert.equal(st("var/tmp").mode & 0o7777, 0o1777);
    assert.deepEqual([st("var/local").mode & 0o7777, st("var/local").gid], [0o2775, 50]);
    // Created inside a set-group-ID directory: the declared default mode is applied.
    assert.equal(st("var/local/new").mode & 0o7777, 0o755);
    assert.deepEqual(lines, []);
    assert.deepEqual(run(root, specs, kept).result.changes, [], "the next sync is unchanged");
  } finally {
    removeDir(root);
  }
});

test("an undeclared directory of another user is kept, walked as hostile ground, and named in a warning", () => {
  const root = tempDir();
  try {
    chmodSync(root, 0o755);
    mkdirSync(join(root, "home/u"), { recursive: true });
    chownSync(join(root, "home/u"), 65534, 65534);
    chmodSync(join(root, "home/u"), 0o700);
    const specs: Spec[] = [
      { path: "/" },
      { path: "/home" },
      { path: "/home/u" },
      { path: "/home/u/.profile", content: "umask 027\n", mode: 0o644 },
    ];
    const kept = ["/", "/home", "/home/u"];
    const dry = run(root, specs, kept, false);
    assert.equal(dry.result.error, null);
    assert.equal(dry.lines.length, 1, dry.lines.join("\n"));
    assert.match(dry.lines[0], /^warning: "\/home\/u" belongs to (user "\w+" \()?uid 65534/);
    const real = run(root, specs, kept);
    assert.equal(real.result.error, null);
    const home = lstatSync(join(root, "home/u"));
    assert.deepEqual([home.uid, home.mode & 0o7777], [65534, 0o700], "kept as it was");
    assert.equal(lstatSync(join(root, "home/u/.profile")).uid, 0);
  } finally {
    removeDir(root);
  }
});
