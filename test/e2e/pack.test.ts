// What ships: `npm pack` gives a package whose `safcm` command works when installed.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { registryEnv } from "../helpers/runtime.ts";
import { REPO, tempDir, writeTree } from "../helpers/tree.ts";

test("npm pack gives an installable package with a working safcm command", () => {
  const { dir, cleanup } = tempDir();
  try {
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
        cwd: REPO,
        encoding: "utf8",
      }),
    ) as { filename: string; files: { path: string }[] }[];
    const files = packed[0].files.map((f) => f.path);
    for (const f of ["bin/safcm", "bin/package.json", "dist/remote.js", "dist/safcm.cjs"])
      assert.ok(files.includes(f), f);
    for (const f of ["docs/README.md", "docs/command-line.md", "docs/howto.md"]) {
      assert.ok(files.includes(f), `the manual ships: ${f}`);
    }
    assert.deepEqual(
      files.filter((f) => f.startsWith("src/") || f.startsWith("test/")),
      [],
      "sources and tests do not ship",
    );
    const prefix = join(dir, "install");
    mkdirSync(prefix);
    execFileSync(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--omit=dev",
        join(dir, packed[0].filename),
      ],
      // The dependencies may come from the registry.
      { cwd: prefix, stdio: "pipe", env: { ...process.env, ...registryEnv() } },
    );
    const bin = join(prefix, "node_modules", ".bin", "safcm");
    assert.match(execFileSync(bin, ["version"], { encoding: "utf8" }), /^safcm \d+\.\d+\.\d+\n$/);
    const root = join(dir, "root");
    mkdirSync(root);
    writeTree(join(dir, "conf"), {
      "hosts.yaml": `- name: h\n  connection: local\n  root: ${root}\n`,
      "all/files/etc/motd": "installed\n",
      // A template: LiquidJS, a dependency, is loaded on first use.
      "all/templates.yaml": "- /etc/hostname\n",
      "all/files/etc/hostname": "{{ host }}\n",
    });
    execFileSync(bin, ["sync", "-C", join(dir, "conf"), "h"], { encoding: "utf8" });
    assert.equal(readFileSync(join(root, "etc/motd"), "utf8"), "installed\n");
    assert.equal(readFileSync(join(root, "etc/hostname"), "utf8"), "h\n");
  } finally {
    cleanup();
  }
});
