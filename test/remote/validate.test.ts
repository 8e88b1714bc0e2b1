// validate.yaml (SPEC 3.5) in the file engine: the command sees the new file
// with its final content, owner and mode, by a /proc/<pid>/fd path of the
// helper; a failure keeps the old file, leaves no temporary file and stops
// with the command's output; dry-run runs nothing.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { syncFiles } from "../../src/remote/files.ts";
import { leftovers, removeDir, request, tempDir, type Spec } from "./util.ts";

function withRoot(fn: (root: string) => void): void {
  const root = realpathSync(tempDir());
  chmodSync(root, 0o755);
  try {
    fn(root);
  } finally {
    removeDir(root);
  }
}

/** The request for `specs`, with validate commands by path. */
function withValidate(specs: Spec[], validate: Record<string, string>) {
  const { files, data } = request(specs);
  for (const f of files) if (validate[f.path] !== undefined) f.validate = validate[f.path];
  return { files, data };
}

test("the command sees the final file by a /proc path of the helper, before the rename", () =>
  withRoot((root) => {
    const seen = join(root, "seen");
    const { files, data } = withValidate(
      [
        { path: "/" },
        { path: "/etc" },
        { path: "/etc/app.conf", content: "new\n", mode: 0o640, group: 4 },
      ],
      {
        "/etc/app.conf": `{ echo %s; stat -L -c '%a %u %g' %s; cat %s; cat ${root}/etc/app.conf; } > ${seen}`,
      },
    );
    mkdirSync(join(root, "etc"), { mode: 0o755 });
    writeFileSync(join(root, "etc/app.conf"), "old\n");
    const result = syncFiles({ root, files, data, apply: true });
    assert.equal(result.error, null);
    const [path, stat, content, installed] = readFileSync(seen, "utf8").split("\n");
    assert.match(path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    assert.equal(stat, "640 0 4", "final mode and owner");
    assert.equal(content, "new");
    assert.equal(installed, "old", "not yet renamed into place");
    assert.equal(readFileSync(join(root, "etc/app.conf"), "utf8"), "new\n");
  }));

test("a failing command keeps the old file, removes the temporary one and stops with its output", () =>
  withRoot((root) => {
    const { files, data } = withValidate(
      [
        { path: "/" },
        { path: "/etc" },
        { path: "/etc/a.conf", content: "a\n" },
        { path: "/etc/sshd_config", content: "Prot 22\n", mode: 0o600 },
        { path: "/etc/z.conf", content: "z\n" },
      ],
      {
        "/etc/sshd_config": 'echo "line 1: Bad configuration option: $(head -c4 %s)" >&2; exit 255',
      },
    );
    mkdirSync(join(root, "etc"), { mode: 0o755 });
    writeFileSync(join(root, "etc/sshd_config"), "Port 22\n");
    chmodSync(join(root, "etc/sshd_config"), 0o600);
    const result = syncFiles({ root, files, data, apply: true });
    assert.equal(
      result.error,
      '"/etc/sshd_config": validate command "echo \\"line 1: Bad configuration option: $(head -c4 %s)\\" >&2; exit 255" failed with exit status 255; the old file is kept:\nline 1: Bad configuration option: Prot',
    );
    assert.equal(readFileSync(join(root, "etc/sshd_config"), "utf8"), "Port 22\n");
    assert.deepEqual(leftovers(join(root, "etc")), []);
    assert.equal(readFileSync(join(root, "etc/a.conf"), "utf8"), "a\n", "renamed before it");
    assert.equal(existsSync(join(root, "etc/z.conf")), false, "nothing after it");
    assert.deepEqual(
      result.changes.map((c) => c.path),
      ["/etc/a.conf", "/etc/sshd_config"],
      "what was done, and the change that was attempted",
    );
  }));

test("not run in dry-run, nor for a file that is already right", () =>
  withRoot((root) => {
    const marker = join(root, "ran");
    const specs: Spec[] = [{ path: "/" }, { path: "/f", content: "x\n" }];
    const dry = withValidate(specs, { "/f": `touch ${marker} # %s` });
    assert.equal(syncFiles({ root, ...dry, apply: false }).error, null);
    assert.equal(existsSync(marker), false);
    assert.equal(syncFiles({ root, ...dry, apply: true }).error, null);
    assert.equal(existsSync(marker), true);
    writeFileSync(marker, "");
    const again = withValidate(specs, { "/f": `rm ${marker} # %s` });
    assert.equal(syncFiles({ root, ...again, apply: true }).changes.length, 0);
    assert.equal(existsSync(marker), true, "no write, no validation");
  }));
