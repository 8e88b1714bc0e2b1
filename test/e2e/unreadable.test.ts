// A configuration directory that its user cannot fully read (SPEC 4: a
// configuration error, exit 2, naming the path; never "internal error"). Root
// bypasses permission checks, so the CLI runs here as the unprivileged uid
// 65534 (setpriv), on a configuration that this user can read except for the
// one directory each case makes unreadable or unsearchable.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { SAFCM, tempDir, writeTree } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir();
after(cleanup);

function asNobody(args: string[]) {
  const r = spawnSync(
    "setpriv",
    ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, SAFCM, ...args],
    { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let n = 0;
function config(): string {
  const conf = join(dir, `conf${n++}`);
  writeTree(conf, {
    "hosts.yaml": "- name: h1\n  connection: local\n  root: /nonexistent\n",
    "all/files/etc/motd": "hi\n",
    "all/files/etc/app/app.conf": "x=1\n",
    "all/commands.yaml": "- echo hi\n",
  });
  return conf;
}

describe("parts of the configuration that cannot be read", { concurrency: true }, () => {
  const cases: [string, string, number, RegExp][] = [
    [
      "a group directory that can be listed but not searched",
      "all",
      0o644,
      /^safcm: all\/files: cannot read: EACCES/m,
    ],
    [
      "a group directory that cannot be listed",
      "all",
      0o311,
      /^safcm: all: cannot read group directory: EACCES/m,
    ],
    [
      "a directory in files/ that can be listed but not searched",
      "all/files/etc",
      0o644,
      /^safcm: all\/files\/etc\/app: cannot read: EACCES/m,
    ],
    [
      "a directory in files/ that cannot be listed",
      "all/files/etc",
      0o311,
      /^safcm: all\/files\/etc: cannot read: EACCES/m,
    ],
  ];
  for (const [name, path, mode, expected] of cases) {
    test(`${name} is a configuration error naming it (exit 2) for check and sync`, () => {
      const conf = config();
      const readable = asNobody(["check", "-C", conf]);
      assert.equal(readable.code, 0, `readable, it loads: ${readable.stderr}`);
      chmodSync(join(conf, path), mode);
      for (const args of [["check"], ["sync", "-n", "h1"]]) {
        const r = asNobody([...args, "-C", conf]);
        assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
        assert.match(r.stderr, expected);
        assert.doesNotMatch(r.stderr, /internal error/);
        assert.match(
          r.stdout,
          args[0] === "check" ? /^0 host\(s\) checked: .* [1-9]\d* error/ : /^$/,
        );
      }
    });
  }
});
