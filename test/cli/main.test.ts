// The command line itself: help, version, usage errors, check and fixperms.

import assert from "node:assert/strict";
import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { REPO, safcm, tempDir, writeTree } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir();
after(cleanup);

describe("the command line", { concurrency: true }, () => {
  test("version prints the package version", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
    const r = await safcm(["version"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `safcm ${pkg.version}\n`);
  });

  test("help lists the commands; help sync lists the options; help for an unknown command is exit 2", async () => {
    const all = await safcm(["help"]);
    assert.equal(all.code, 0);
    for (const c of ["sync", "check", "fixperms", "version", "help"])
      assert.match(all.stdout, new RegExp(`safcm ${c}`));
    const sync = await safcm(["help", "sync"]);
    for (const o of ["--dry-run", "--jobs", "--json", "--color", "--log-level", "-C DIR"])
      assert.ok(sync.stdout.includes(o), o);
    const bad = await safcm(["help", "frobnicate"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command "frobnicate"/);
  });

  const usage: [string[], RegExp][] = [
    [["frobnicate"], /unknown command "frobnicate"/],
    [["sync"], /no host or group given/],
    [["sync", "--jobs", "0", "x"], /invalid --jobs "0"/],
    [["sync", "--log-level", "loud", "x"], /invalid log level "loud"/],
    [["sync", "--color", "pink", "x"], /invalid --color "pink"/],
    [["sync", "--bogus", "x"], /bogus/],
    [["fixperms", "extra"], /fixperms takes no arguments/],
    [["check", "--json"], /--json is not valid for this command/],
  ];
  for (const [args, expected] of usage) {
    test(`usage error: safcm ${args.join(" ")} is exit 2 with a message, no stack trace`, async () => {
      const r = await safcm(args, { cwd: dir });
      assert.equal(r.code, 2);
      assert.match(r.stderr, expected);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }

  test("fixperms on a missing directory and an absurd SAFCM_HELPER_TIMEOUT are exit 2 with a message", async () => {
    const missing = await safcm(["fixperms", "-C", join(dir, "no-such-dir")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot fix permissions: ENOENT/);
    for (const value of ["Infinity", "0", "soon", "99999999"]) {
      const r = await safcm(["sync", "-C", dir, "x"], { env: { SAFCM_HELPER_TIMEOUT: value } });
      assert.equal(r.code, 2, value);
      assert.match(r.stderr, /invalid SAFCM_HELPER_TIMEOUT/);
    }
  });

  test("check builds every host and lists every error with exit 2; 0 when all build", async () => {
    const conf = join(dir, "check");
    writeTree(conf, {
      "hosts.yaml": "- name: a\n- name: b\n",
      "groups.yaml": "g1: [a, b]\ng2: [b]\n",
      "g1/files/x": "1\n",
      "g2/files/x": "2\n",
      "a/files/t": "{{ nosuchvar }}\n",
      "a/templates.yaml": "- /t\n",
    });
    const r = await safcm(["check", "-C", conf]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /host "a": .*a\/files\/t.*nosuchvar/);
    assert.match(r.stderr, /host "b": .*g1.*g2|host "b": .*g2.*g1/);
    assert.equal(r.stdout, "2 host(s) checked: 0 warning(s), 2 error(s)\n", "one summary line");
    const onlyB = await safcm(["check", "-C", conf, "g2"]);
    assert.equal(onlyB.code, 2);
    assert.doesNotMatch(onlyB.stderr, /host "a"/);
    writeTree(conf, { "config.yaml": "group_order: [g1, g2]\n", "a/files/t": "{{ host }}\n" });
    const ok = await safcm(["check", "-C", conf]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "2 host(s) checked: 0 warning(s), 0 error(s)\n");
    assert.equal(ok.stderr, "");
  });

  test("fixperms makes files/ trees syncable and sync then accepts them", async () => {
    const conf = join(dir, "fixperms");
    writeTree(conf, {
      "hosts.yaml": "- name: a\n  connection: local\n  root: /nonexistent\n",
      "all/files/etc/open": { content: "x", mode: 0o666 },
      "all/files/usr/bin/tool": { content: "x", mode: 0o775 },
      "all/files/etc/wide": { dir: true, mode: 0o777 },
    });
    const before = await safcm(["check", "-C", conf]);
    assert.equal(before.code, 2);
    assert.match(before.stderr, /writable by group or others.*safcm fixperms/);
    const r = await safcm(["fixperms", "-C", conf]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^all\/files\/etc\/open: 0666 -> 0644$/m);
    const mode = (p: string) => lstatSync(join(conf, p)).mode & 0o7777;
    assert.equal(mode("all/files/etc/open"), 0o644);
    assert.equal(mode("all/files/usr/bin/tool"), 0o755);
    assert.equal(mode("all/files/etc/wide"), 0o755);
    assert.equal((await safcm(["check", "-C", conf])).code, 0);
  });
});
