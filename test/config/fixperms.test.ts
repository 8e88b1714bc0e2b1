import { statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { fixperms } from "../../src/config/fixperms.ts";
import { loadConfig } from "../../src/config/load.ts";
import { configDir, dir, file, link } from "./tree.ts";

test("fixperms makes files/ 0644/0755 and leaves everything else alone", () => {
  const root = configDir({
    "README.md": file("x", 0o666),
    all: {
      "packages.yaml": file("- htop\n", 0o666),
      files: dir(
        {
          etc: dir({ motd: file("hi\n", 0o664), ok: file("ok\n", 0o644) }, 0o775),
          bin: {
            tool: file("#!/bin/sh\n", 0o775),
            secret: file("x", 0o600),
            suid: file("x", 0o4755),
          },
          link: link("/etc/motd"),
        },
        0o777,
      ),
    },
    web: { files: { x: file("x", 0o666) } },
    ".git": { files: { y: file("x", 0o666) } },
  });
  const changed = fixperms(root);
  assert.deepEqual(changed, [
    "all/files",
    "all/files/bin/secret",
    "all/files/bin/suid",
    "all/files/bin/tool",
    "all/files/etc",
    "all/files/etc/motd",
    "web/files/x",
  ]);
  const mode = (p: string) => statSync(path.join(root, p)).mode & 0o7777;
  assert.equal(mode("all/files"), 0o755);
  assert.equal(mode("all/files/etc"), 0o755);
  assert.equal(mode("all/files/etc/motd"), 0o644);
  assert.equal(mode("all/files/bin/tool"), 0o755);
  assert.equal(mode("all/files/bin/secret"), 0o644);
  assert.equal(mode("all/files/bin/suid"), 0o755);
  assert.equal(mode("README.md"), 0o666);
  assert.equal(mode("all/packages.yaml"), 0o666);
  assert.equal(mode(".git/files/y"), 0o666);
  assert.deepEqual(fixperms(root), [], "nothing left to change");
});

test("after fixperms a configuration with group-writable files loads", () => {
  const root = configDir({ all: { files: { etc: dir({ motd: file("hi\n", 0o664) }, 0o775) } } });
  assert.throws(() => loadConfig(root), /safcm fixperms/);
  fixperms(root);
  assert.equal(loadConfig(root).groupDirs.get("all")?.files.get("/etc/motd")?.mode, 0o644);
});
