import { test } from "node:test";
import assert from "node:assert/strict";
import { fileDiff, MAX_EDIT_LENGTH } from "../../src/report/diff.ts";
import { changed, created, info, numbered } from "./fixtures.ts";

test("text diff: hunks with 3 lines of context, no file header", () => {
  const old = numbered(20);
  const neu = old.replace("10\n", "ten\n");
  assert.equal(
    fileDiff(changed(old, neu)),
    ["@@ -7,7 +7,7 @@", " 7", " 8", " 9", "-10", "+ten", " 11", " 12", " 13"].join("\n"),
  );
});

test("text diff: separate hunks for distant changes", () => {
  const old = numbered(30);
  const neu = old.replace("3\n", "three\n").replace("25\n", "twenty-five\n");
  const diff = fileDiff(changed(old, neu))!;
  assert.deepEqual(
    diff.split("\n").filter((l) => l.startsWith("@@")),
    ["@@ -1,6 +1,6 @@", "@@ -22,7 +22,7 @@"],
  );
});

test("no newline at end of file is marked", () => {
  assert.equal(
    fileDiff(changed("a\nb\n", "a\nb")),
    ["@@ -1,2 +1,2 @@", " a", "-b", "+b", "\\ No newline at end of file"].join("\n"),
  );
  assert.equal(
    fileDiff(changed("a", "b\n")),
    ["@@ -1,1 +1,1 @@", "-a", "\\ No newline at end of file", "+b"].join("\n"),
  );
});

test("old content from the host stays raw (escaping is the human report's job)", () => {
  assert.equal(fileDiff(changed("\x1b[2J\n", "x\n")), "@@ -1,1 +1,1 @@\n-\x1b[2J\n+x");
});

test("one binary side is a placeholder line", () => {
  const bin = Buffer.from([0x00, 0x01, 0x02, 0x03]);
  assert.equal(
    fileDiff(changed(bin, "text\n")),
    "@@ -1,1 +1,1 @@\n-<binary content, 4 bytes>\n+text",
  );
  // Invalid UTF-8 counts as binary.
  assert.equal(
    fileDiff(changed("a\n", Buffer.from([0xff, 0xfe]))),
    "@@ -1,1 +1,1 @@\n-a\n+<binary content, 2 bytes>",
  );
});

test("both sides binary: one line with both sizes", () => {
  assert.equal(
    fileDiff(changed(Buffer.alloc(1024), Buffer.alloc(2048))),
    "<binary content, 1024 bytes> -> <binary content, 2048 bytes>",
  );
});

test("old content too large", () => {
  assert.equal(
    fileDiff(changed(null, "x\n", { oldSize: 5_000_000 })),
    "<content too large to diff, 5000000 bytes>",
  );
});

test("symlink targets diff as one line each", () => {
  const link = info("symlink", 0o777, "root", 0);
  assert.equal(
    fileDiff(changed("/old/target", "/new/target", { old: link, new: link })),
    "@@ -1,1 +1,1 @@\n-/old/target\n+/new/target",
  );
});

test("no diff for created files, metadata-only changes, directories or other types", () => {
  assert.equal(fileDiff(created("/etc/motd")), null);
  assert.equal(fileDiff(changed("a\n", "a\n", { contentChanged: false })), null);
  const fifo = info("fifo", 0o644, "root", 0);
  assert.equal(fileDiff(changed(null, "x\n", { old: fifo })), null);
  const dir = info("dir", 0o755, "root", 0);
  assert.equal(fileDiff(changed(null, "x\n", { new: dir })), null);
});

test("too many changes give a line instead of a slow diff", () => {
  // Alternating lines that partly match are the expensive case for Myers.
  const n = 20_000;
  const old = Array.from({ length: n }, (_, i) => (i % 2 ? "x" : "y")).join("\n");
  const neu = Array.from({ length: n }, (_, i) => (i % 3 ? "x" : "z")).join("\n");
  assert.equal(
    fileDiff(changed(old, neu)),
    `<too many changes to diff, ${old.length} -> ${neu.length} bytes>`,
  );
  assert.ok(MAX_EDIT_LENGTH >= 1000);
});
