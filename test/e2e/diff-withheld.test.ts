// End-to-end: the diff of a private file is withheld (SPEC 5.1). The content
// of a changed /etc/shadow-like file must reach neither standard output nor
// standard error, in the human report, the JSON report and debug logs.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { safcm, tempDir, writeTree } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir();
after(cleanup);

const OLD = "root:$6$OLDHASHxyz:19000:0:99999:7:::\n";
const NEW = "root:$6$NEWHASHabc:19001:0:99999:7:::\n";

let n = 0;
/** A configuration whose host holds the old shadow file; `mode` is the mode of the host's file. */
function fixture(hostMode: number, declared: string) {
  const base = join(dir, `case${n++}`);
  const root = join(base, "root");
  mkdirSync(root, { recursive: true });
  writeTree(base, {
    "conf/hosts.yaml": `- name: h1\n  connection: local\n  root: ${root}\n`,
    "conf/all/files/etc/shadow": NEW,
    "conf/all/files/etc/motd": "new motd\n",
    "conf/all/permissions.yaml": `/etc/shadow: ${declared}\n`,
    "root/etc/shadow": { content: OLD, mode: hostMode },
    "root/etc/motd": "old motd\n",
  });
  return { conf: join(base, "conf"), root };
}

interface Report {
  hosts: { files: { path: string; diff: string | null; diff_hidden: string | null }[] }[];
}

function assertNoContent(out: string): void {
  for (const secret of ["OLDHASH", "NEWHASH"]) assert.ok(!out.includes(secret), out);
}

describe("the diff of a private file", { concurrency: true }, () => {
  for (const [name, hostMode, declared] of [
    ["0640 before and after", 0o640, "0640 root root"],
    ["0644 on the host, 0600 in the configuration", 0o644, "0600"],
    ["0600 on the host, 0644 in the configuration", 0o600, "0644"],
  ] as const) {
    test(`is withheld in every report (${name})`, async () => {
      const f = fixture(hostMode, declared);
      const dry = await safcm(["sync", "-n", "-l", "debug2", "-C", f.conf, "h1"]);
      assert.equal(dry.code, 0, dry.stderr);
      assertNoContent(dry.stdout + dry.stderr);
      assert.match(
        dry.stdout,
        /\[h1\] "\/etc\/shadow": (permission \d+ -> \d+, )?content\n {3}\(diff withheld: the file is not readable by others\)\n/,
      );
      assert.match(dry.stdout, /-old motd\n.*\+new motd/s, "other diffs are still shown");

      const json = await safcm(["sync", "-n", "--json", "-l", "debug2", "-C", f.conf, "h1"]);
      assert.equal(json.code, 0, json.stderr);
      assertNoContent(json.stdout + json.stderr);
      const files = (JSON.parse(json.stdout) as Report).hosts[0].files;
      const shadow = files.find((x) => x.path === "/etc/shadow");
      assert.deepEqual([shadow?.diff, shadow?.diff_hidden], [null, "mode"]);
      const motd = files.find((x) => x.path === "/etc/motd");
      assert.deepEqual([typeof motd?.diff, motd?.diff_hidden], ["string", null]);

      const real = await safcm(["sync", "-C", f.conf, "h1"]);
      assert.equal(real.code, 0, real.stderr);
      assertNoContent(real.stdout + real.stderr);
      assert.match(real.stdout, /\(diff withheld: the file is not readable by others\)/);
      assert.equal(readFileSync(join(f.root, "etc/shadow"), "utf8"), NEW);
    });
  }
});
