import { lstatSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { fixperms, formatChange } from "../../src/cli/fixperms.ts";
import { loadConfig } from "../../src/config/load.ts";
import { configDir } from "../helpers/tree.ts";

test("fixperms removes only group and other write bits, follows no symlink, and says what it changed", () => {
  const root = configDir({
    "README.md": { content: "x", mode: 0o666 },
    outside: { content: "target of a link", mode: 0o666 },
    "all/packages.yaml": { content: "- htop\n", mode: 0o666 },
    "all/files": { dir: true, mode: 0o777 },
    "all/files/etc": { dir: true, mode: 0o775 },
    "all/files/etc/motd": { content: "hi\n", mode: 0o664 },
    "all/files/etc/ok": { content: "ok\n", mode: 0o644 },
    "all/files/private": { dir: true, mode: 0o700 },
    "all/files/private/key": { content: "k", mode: 0o600 },
    "all/files/private/open": { content: "x", mode: 0o622 },
    "all/files/shared": { dir: true, mode: 0o2777 },
    "all/files/bin/tool": { content: "#!/bin/sh\n", mode: 0o775 },
    "all/files/bin/secret": { content: "x", mode: 0o600 },
    "all/files/bin/suid": { content: "x", mode: 0o4775 },
    "all/files/bin/readonly": { content: "x", mode: 0o444 },
    "all/files/link": { symlink: "../../outside" },
    "web/files/x": { content: "x", mode: 0o666 },
    ".git/files/y": { content: "x", mode: 0o666 },
  });
  const changed = fixperms(root);
  assert.deepEqual(changed.map(formatChange), [
    "all/files: 0777 -> 0755",
    "all/files/bin/suid: 4775 -> 4755",
    "all/files/bin/tool: 0775 -> 0755",
    "all/files/etc: 0775 -> 0755",
    "all/files/etc/motd: 0664 -> 0644",
    "all/files/private/open: 0622 -> 0600",
    "all/files/shared: 2777 -> 2755",
    "web/files/x: 0666 -> 0644",
  ]);
  const mode = (p: string) => lstatSync(path.join(root, p)).mode & 0o7777;
  assert.equal(mode("all/files/bin/secret"), 0o600, "a private file stays private");
  assert.equal(mode("all/files/private"), 0o700, "a private directory stays private");
  assert.equal(mode("all/files/private/key"), 0o600);
  assert.equal(mode("all/files/bin/readonly"), 0o444);
  assert.equal(mode("outside"), 0o666, "the symlink's target is not touched");
  assert.equal(mode("README.md"), 0o666);
  assert.equal(mode("all/packages.yaml"), 0o666);
  assert.equal(mode(".git/files/y"), 0o666);
  assert.deepEqual(fixperms(root), [], "nothing left to change");
});

test("after fixperms a configuration with group-writable files loads", () => {
  const root = configDir({
    "all/files/etc": { dir: true, mode: 0o775 },
    "all/files/etc/motd": { content: "hi\n", mode: 0o664 },
  });
  assert.throws(() => loadConfig(root), /safcm fixperms/);
  fixperms(root);
  assert.equal(loadConfig(root).groupDirs.get("all")?.files.get("/etc/motd")?.mode, 0o644);
});
