// A user's install from a clone: `./scripts/install.sh` in a fresh copy of the
// repository (no node_modules, no dist/) installs a `safcm` command that works
// after the clone is gone. Before it, a clone's bin/safcm says in one sentence
// what to run instead of failing with a stack trace.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, lstatSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { registryEnv } from "../helpers/runtime.ts";
import { REPO, tempDir, writeTree } from "../helpers/tree.ts";

/** A fresh clone's files: what git tracks or would track, as in the working tree. */
function copyClone(dest: string): void {
  const git = ["ls-files", "-z", "--cached", "--others", "--exclude-standard"];
  const tracked = execFileSync("git", git, { cwd: REPO, encoding: "utf8" })
    .split("\0")
    .filter((f) => f !== "" && f !== "node_modules");
  for (const f of tracked) {
    try {
      cpSync(join(REPO, f), join(dest, f), { recursive: false, verbatimSymlinks: true });
    } catch (err) {
      // A tracked file deleted in the working tree is not part of this clone.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}

test("scripts/install.sh installs a working safcm from a fresh clone", () => {
  const { dir, cleanup } = tempDir();
  try {
    const clone = join(dir, "clone");
    mkdirSync(clone);
    copyClone(clone);

    const before = spawnSync(process.execPath, [join(clone, "bin", "safcm"), "version"], {
      encoding: "utf8",
    });
    assert.equal(before.status, 2);
    assert.equal(before.stdout, "");
    assert.equal(
      before.stderr,
      `safcm: not built yet: run "npm ci" (or ./scripts/setup.sh) in ${clone} first\n`,
    );

    const prefix = join(dir, "prefix");
    const installed = spawnSync("sh", [join(clone, "scripts", "install.sh")], {
      cwd: dir,
      encoding: "utf8",
      env: {
        ...process.env,
        ...registryEnv(),
        npm_config_prefix: prefix,
        npm_config_prefer_offline: "true",
      },
    });
    assert.equal(installed.status, 0, installed.stderr);
    assert.match(installed.stdout, /installed: .*\/bin\/safcm\n$/);

    // A copy, not a link into the clone: the clone may go.
    assert.ok(lstatSync(join(prefix, "lib", "node_modules", "safcm")).isDirectory());
    rmSync(clone, { recursive: true, force: true });
    const bin = join(prefix, "bin", "safcm");
    assert.match(execFileSync(bin, ["version"], { encoding: "utf8" }), /^safcm \d+\.\d+\.\d+\n$/);
    const root = join(dir, "root");
    mkdirSync(root);
    writeTree(join(dir, "conf"), {
      "hosts.yaml": `- name: h\n  connection: local\n  root: ${root}\n`,
      "all/templates.yaml": "- /etc/hostname\n",
      "all/files/etc/hostname": "{{ host }}\n",
    });
    execFileSync(bin, ["sync", "-C", join(dir, "conf"), "h"], { encoding: "utf8" });
    assert.equal(readFileSync(join(root, "etc/hostname"), "utf8"), "h\n");
  } finally {
    cleanup();
  }
});
