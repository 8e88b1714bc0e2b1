// Access never widens in between (SPEC 6), staged as it was found (issue 9,
// item 3): a sync loosens /sec (0700 -> 0755) and tightens /sec/zz-secret
// (0644 -> 0600, new content). An unprivileged reader (uid 65534) loops on
// the file the whole time; it must never read the old secret. With the old
// parents-first order the directory opened before the file was replaced and
// the reader got the old secret in most rounds.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { syncFiles } from "../../src/remote/files.ts";
import { removeDir, request, tempDir } from "../remote/util.ts";

const ROUNDS = 40;

const READER = `
const { readFileSync } = require("node:fs");
const path = process.argv[1];
const seen = new Set();
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
(function loop() {
  for (let i = 0; i < 2000; i++) {
    try {
      const text = readFileSync(path, "utf8");
      if (!seen.has(text)) { seen.add(text); process.stdout.write(JSON.stringify(text) + "\\n"); }
    } catch {}
  }
  setImmediate(loop);
})();
process.stdout.write("ready\\n");
`;

test("an unprivileged reader never reads the old secret while a sync loosens its directory", async () => {
  const root = tempDir();
  chmodSync(root, 0o755);
  const sec = join(root, "sec");
  const secret = join(sec, "zz-secret");
  const reader = spawn(process.execPath, ["-e", READER, secret], {
    uid: 65534,
    gid: 65534,
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  reader.stdout.setEncoding("utf8");
  const ready = new Promise<void>((resolve) =>
    reader.stdout.on("data", (chunk: string) => {
      output += chunk;
      if (output.includes("ready\n")) resolve();
    }),
  );
  try {
    await ready;
    for (let round = 0; round < ROUNDS; round++) {
      // Before: only root may enter /sec; the file in it is 0644.
      mkdirSync(sec, { recursive: true });
      chmodSync(sec, 0o700);
      writeFileSync(secret, `OLD secret ${round}\n`);
      chmodSync(secret, 0o644);
      const { files, data } = request([
        { path: "/" },
        { path: "/sec", mode: 0o755 },
        { path: "/sec/zz-secret", content: `new ${round}\n`, mode: 0o600 },
      ]);
      const result = syncFiles({ root, files, data, apply: true });
      assert.equal(result.error, null);
      // Give the reader a moment in the final state (0755 directory, 0600 file).
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  } finally {
    reader.stdin.end();
    await new Promise((resolve) => reader.on("exit", resolve));
    removeDir(root);
  }
  const leaked = output.split("\n").filter((line) => line.includes("OLD secret"));
  assert.deepEqual(
    leaked,
    [],
    `the reader read the old secret in ${leaked.length} of ${ROUNDS} rounds`,
  );
});
