// A crash (SIGKILL, power loss) between creating a temporary file and
// renaming it over the target leaves `.<name>.safcm-<16 hex>` behind. The next
// real sync removes such regular files and symlinks from every directory it
// walks, and nothing else: not a directory named like that (an attacker may
// plant one), not a symlink's target, not a FIFO, not a name that only looks
// similar, not anything in a directory the sync does not walk, and nothing at
// all in dry-run.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { LogLevel } from "../../src/protocol/messages.ts";
import { syncFiles, type FilesResult } from "../../src/remote/files.ts";
import { isTempName } from "../../src/remote/cleanup.ts";
import { tempName } from "../../src/remote/safe-fs.ts";
import { openFds, removeDir, request, snapshot, tempDir, type Spec } from "./util.ts";

const HEX = "0123456789abcdef";

function withDirs(fn: (root: string, outside: string) => void): () => void {
  return () => {
    const root = tempDir();
    const outside = tempDir();
    chmodSync(root, 0o755);
    try {
      fn(root, outside);
    } finally {
      removeDir(root);
      removeDir(outside);
    }
  };
}

function sync(
  root: string,
  specs: Spec[],
  apply = true,
): FilesResult & { lines: [LogLevel, string][] } {
  const { files, data } = request(specs);
  const lines: [LogLevel, string][] = [];
  const result = syncFiles({
    root,
    files,
    data,
    apply,
    log: (level, text) => lines.push([level, text]),
  });
  return { ...result, lines };
}

const removals = (lines: [LogLevel, string][]): string[] =>
  lines
    .filter(([, text]) => text.endsWith(": removed stale temporary file"))
    .map(([level, text]) => `${level} ${text}`)
    .sort();

const tree: Spec[] = [
  { path: "/" },
  { path: "/etc" },
  { path: "/etc/motd", content: "hello\n" },
  { path: "/etc/app" },
  { path: "/etc/app/conf", content: "a=1\n" },
];

describe("files: stale temporary files of a crashed run", () => {
  test("temporary names always match the pattern the cleanup looks for", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", minLength: 1, maxLength: 300 }).filter((s) => !s.includes("/")),
        (name) => isTempName(tempName(name)),
      ),
      { numRuns: 300 },
    );
    for (const name of [
      "motd",
      ".motd.safcm-0123456789abcdef",
      ".safcm-0123456789abcdef",
      "..safcm-0123456789abcdef",
    ]) {
      assert.equal(isTempName(`.${name}.safcm-0123456789abcdef`), true, name);
    }
    for (const name of [
      "motd.safcm-0123456789abcdef", // no leading dot
      ".motd.safcm-0123456789abcde", // 15 hex digits
      ".motd.safcm-0123456789abcdef0", // 17
      ".motd.safcm-0123456789ABCDEF", // upper case
      ".motd.safcm-0123456789abcdeg",
      ".safcm-0123456789abcdef", // no name
      ".motd.safcm-0123456789abcdef.bak",
      ".motd.safcm-0123456789abcdef\n",
    ]) {
      assert.equal(isTempName(name), false, JSON.stringify(name));
    }
  });

  test(
    "a real sync removes them from every directory it walks, logs each, and touches nothing else",
    withDirs((root) => {
      assert.equal(sync(root, tree).error, null);
      const stale = [
        ".motd.safcm-0123456789abcdef", // the file a crash left
        ".gone.safcm-aaaaaaaaaaaaaaaa", // a file no longer in the configuration
      ];
      for (const name of stale) writeFileSync(join(root, "etc", name), "partial");
      symlinkSync("motd", join(root, "etc", ".link.safcm-bbbbbbbbbbbbbbbb")); // a symlink's temporary
      writeFileSync(join(root, ".etc.safcm-cccccccccccccccc"), ""); // in the root itself
      writeFileSync(join(root, "etc/app/.conf.safcm-dddddddddddddddd"), "a=");
      const keep = [
        "etc/motd.safcm-0123456789abcdef",
        "etc/.motd.safcm-0123456789ABCDEF",
        "etc/.motd.safcm-0123",
        "etc/.safcm-0123456789abcdef",
        "etc/.motd.safcm-0123456789abcdef.orig",
        "etc/notes",
      ];
      for (const rel of keep) writeFileSync(join(root, rel), rel);
      // A directory the sync does not walk (not managed): left alone.
      mkdirSync(join(root, "etc/unmanaged"));
      writeFileSync(join(root, "etc/unmanaged/.x.safcm-eeeeeeeeeeeeeeee"), "");

      const before = snapshot(root);
      const result = sync(root, tree);
      assert.equal(result.error, null);
      assert.deepEqual(result.changes, [], "a cleanup alone is no change of the configuration");
      assert.deepEqual(removals(result.lines), [
        'verbose "/.etc.safcm-cccccccccccccccc": removed stale temporary file',
        'verbose "/etc/.gone.safcm-aaaaaaaaaaaaaaaa": removed stale temporary file',
        'verbose "/etc/.link.safcm-bbbbbbbbbbbbbbbb": removed stale temporary file',
        'verbose "/etc/.motd.safcm-0123456789abcdef": removed stale temporary file',
        'verbose "/etc/app/.conf.safcm-dddddddddddddddd": removed stale temporary file',
      ]);
      const after = snapshot(root);
      const gone = Object.keys(before).filter((p) => !(p in after));
      assert.deepEqual(gone.sort(), [
        ".etc.safcm-cccccccccccccccc",
        "etc/.gone.safcm-aaaaaaaaaaaaaaaa",
        "etc/.link.safcm-bbbbbbbbbbbbbbbb",
        "etc/.motd.safcm-0123456789abcdef",
        "etc/app/.conf.safcm-dddddddddddddddd",
      ]);
      for (const rel of [...keep, "etc/unmanaged/.x.safcm-eeeeeeeeeeeeeeee", "etc/motd"]) {
        assert.equal(after[rel], before[rel], `${rel} untouched`);
      }
      // Nothing left to do the next time.
      assert.deepEqual(removals(sync(root, tree).lines), []);
    }),
  );

  test(
    "dry-run removes nothing and reads no directory for it",
    withDirs((root) => {
      assert.equal(sync(root, tree).error, null);
      writeFileSync(join(root, "etc/.motd.safcm-0123456789abcdef"), "partial");
      const before = snapshot(root);
      const result = sync(root, tree, false);
      assert.equal(result.error, null);
      assert.deepEqual(removals(result.lines), []);
      assert.deepEqual(snapshot(root), before);
    }),
  );

  test(
    "an attacker's directory named like a temporary file is never removed, nor anything in it",
    withDirs((root) => {
      assert.equal(sync(root, tree).error, null);
      const planted = join(root, "etc/.motd.safcm-0123456789abcdef");
      mkdirSync(planted);
      writeFileSync(join(planted, "precious"), "data");
      mkdirSync(join(root, "etc/.empty.safcm-0123456789abcdef")); // even an empty one
      const before = snapshot(root);
      const result = sync(root, tree);
      assert.equal(result.error, null);
      assert.deepEqual(removals(result.lines), []);
      assert.deepEqual(snapshot(root), before);
    }),
  );

  test(
    "a symlink named like a temporary file pointing outside: the link goes, its target stays",
    withDirs((root, outside) => {
      assert.equal(sync(root, tree).error, null);
      writeFileSync(join(outside, "victim"), "secret");
      mkdirSync(join(outside, "victim-dir"));
      writeFileSync(join(outside, "victim-dir/.f.safcm-0123456789abcdef"), "not ours");
      symlinkSync(join(outside, "victim"), join(root, "etc/.motd.safcm-0123456789abcdef"));
      symlinkSync(join(outside, "victim-dir"), join(root, "etc/.dir.safcm-0123456789abcdef"));
      symlinkSync("/nonexistent", join(root, "etc/.dangling.safcm-0123456789abcdef"));
      const outsideBefore = snapshot(outside);
      const result = sync(root, tree);
      assert.equal(result.error, null);
      assert.equal(removals(result.lines).length, 3);
      assert.deepEqual(
        readdirSync(join(root, "etc")).filter((n) => n.includes("safcm")),
        [],
      );
      assert.deepEqual(snapshot(outside), outsideBefore, "nothing outside the root changed");
      assert.equal(readFileSync(join(outside, "victim"), "utf8"), "secret");
    }),
  );

  test(
    "a FIFO named like a temporary file is left alone (and does not hang the sync)",
    withDirs((root) => {
      assert.equal(sync(root, tree).error, null);
      const fifo = join(root, "etc/.motd.safcm-0123456789abcdef");
      assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
      const result = sync(root, tree);
      assert.equal(result.error, null);
      assert.deepEqual(removals(result.lines), []);
      assert.ok(lstatSync(fifo).isFIFO());
    }),
  );

  test(
    "a name that is not valid UTF-8 is removed by its bytes (decoding it would name another entry)",
    withDirs((root) => {
      assert.equal(sync(root, tree).error, null);
      const etc = Buffer.from(join(root, "etc") + "/");
      const raw = Buffer.concat([
        etc,
        Buffer.from([0x2e, 0xff, 0xfe]),
        Buffer.from(".safcm-0123456789abcdef"),
      ]);
      writeFileSync(raw, "partial");
      const result = sync(root, tree);
      assert.equal(result.error, null);
      assert.equal(removals(result.lines).length, 1);
      assert.throws(() => lstatSync(raw), { code: "ENOENT" });
    }),
  );

  test(
    "a directory left 0700 (created, then killed before its mode was set) is fixed by the next sync",
    withDirs((root) => {
      mkdirSync(join(root, "etc"), { mode: 0o700 });
      chmodSync(join(root, "etc"), 0o700);
      const result = sync(root, tree);
      assert.equal(result.error, null);
      const etc = result.changes.find((c) => c.path === "/etc");
      assert.equal(etc?.old?.mode, 0o700);
      assert.equal(etc?.new.mode, 0o755);
      assert.equal(lstatSync(join(root, "etc")).mode & 0o7777, 0o755);
      assert.deepEqual(sync(root, tree).changes, []);
    }),
  );

  test(
    "cleanup opens no descriptor it does not close",
    withDirs((root) => {
      assert.equal(sync(root, tree).error, null);
      const before = openFds();
      for (let i = 0; i < 20; i++) {
        const name = `.motd.safcm-${HEX[i % 16].repeat(16)}`;
        writeFileSync(join(root, "etc", name), "x");
        assert.equal(sync(root, tree).error, null);
      }
      assert.equal(openFds(), before);
    }),
  );
});
