// The README's quick start, run exactly as written in a copy of the clone.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO, tempDir } from "../helpers/tree.ts";

function quickStart(): string {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Quick start"));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(block, "the quick start has a sh block");
  return block[1];
}

test("the README quick start works as written and is safe to run", () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const part of ["bin", "dist", "examples", "package.json"]) {
      cpSync(join(REPO, part), join(dir, part), { recursive: true });
    }
    symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
    const script = quickStart();
    const r = spawnSync("bash", ["-e", "-c", script], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    assert.equal(r.status, 0, r.stderr);
    const runs = r.stdout.split(/^1 host\(s\): /m);
    assert.match(runs[0], /\[demo\] "\/etc\/motd": created, file/);
    assert.match(r.stdout, /1 changed, 0 unchanged, 0 failed \(dry-run\)/);
    assert.match(
      r.stdout,
      /1 host\(s\): 0 changed, 1 unchanged, 0 failed/,
      "the last sync has nothing left to do",
    );
    assert.match(r.stdout, /Welcome to demo\./);
    assert.equal(
      readFileSync(join(dir, "tmp/quickstart-root/srv/www/index.html"), "utf8").includes(
        "It works",
      ),
      true,
    );
  } finally {
    cleanup();
  }
});
