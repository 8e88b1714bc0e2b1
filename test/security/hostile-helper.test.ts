// A compromised managed host controls what its "helper" sends. These tests
// replace the host's Node.js (hosts.yaml `node:`) with a program that speaks
// the protocol wrongly (test/fixtures/hostile-helper.mjs) and check that the
// host ends with a clear error in bounded time, that the other host in the
// same sync is unaffected, and that no raw control byte reaches the terminal.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { REPO, safcm, tempDir, writeTree } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir();
after(cleanup);

/**
 * SAFCM_HELPER_TIMEOUT for the behaviours that hang. The timeout is the whole
 * sync's, so the honest host gets it too: under a full suite on two cores its
 * helper once took longer than 2 s to answer (CI failed with both hosts timing
 * out). 10 s is far from what an honest helper needs; the two runs of a case
 * wait for it at the same time.
 */
const HANG_TIMEOUT_S = 10;
const HANG = new RegExp(`no answer from the helper for ${HANG_TIMEOUT_S} s`);

const cases: [string, RegExp][] = [
  ["garbage", /protocol error: frame of \d+ bytes exceeds the limit/],
  ["huge-length", /protocol error: frame of \d+ bytes exceeds the limit/],
  ["truncated", /connection closed unexpectedly: helper exited with status 0/],
  ["truncated-hang", HANG],
  ["invalid-json", /protocol error: frame header is not valid JSON/],
  ["oversized-json", /protocol error: invalid message from helper: log\.text: string longer than/],
  [
    "unknown-type",
    /protocol error: invalid message from helper: message: unknown type "run_on_workstation"/,
  ],
  ["paths-not-sent", /helper reported a path that was not sent: "\/etc\/shadow"/],
  ["removed-not-absent", /helper reported "\/etc\/motd" as removed, which is not what was sent/],
  ["endless-logs", /more than 100000 log lines/],
  ["escapes", /error \\x1b\[2J\\x1b\]0;pwned\\x07\\x9b31m/],
  ["error-escapes", /helper failed: fatal \\x1b\[2J/],
  ["silent", HANG],
  ["deep-type", /protocol error: invalid message from helper: message: unknown type object/],
  ["unsolicited", /protocol error: unexpected info_response: no request is waiting for it/],
  ["stderr-escapes", /helper exited with status 1: oops \\x1b\[2J/],
];

// Control characters that must never reach the terminal (\n and \t are fine).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/** A directory for `behaviour` with the host's "node" that runs the hostile helper as it. */
function hostileNode(behaviour: string): { base: string; fake: string } {
  const base = join(dir, behaviour);
  mkdirSync(base);
  copyFileSync(join(REPO, "test/fixtures/hostile-helper.mjs"), join(base, `${behaviour}.mjs`));
  // The host's "node": the bootstrap's version question is answered by sh (a node
  // start less per run); everything else goes to the hostile helper.
  const fake = join(base, "node");
  writeFileSync(
    fake,
    `#!/bin/sh\n[ "$1" = --version ] && { echo v20.0.0; exit 0; }\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(base, `${behaviour}.mjs`))} "$@"\n`,
    { mode: 0o755 },
  );
  return { base, fake };
}

describe("a hostile helper", { concurrency: 4 }, () => {
  test("lying-mode: a host that reports 0644 for a file declared 0600 does not get its diff shown", async () => {
    // SPEC 5.1: whether a diff is withheld comes from what the workstation declared.
    const { base, fake } = hostileNode("lying-mode");
    const conf = join(base, "conf");
    writeTree(conf, {
      "hosts.yaml": `- name: evil\n  connection: local\n  root: ${join(base, "root")}\n  node: ${fake}\n`,
      "all/files/etc/key": "PRIVATE-KEY-Vb7q\n",
      "all/files/etc/motd": "public motd\n",
      "all/permissions.yaml": "/etc/key: 0600\n",
    });
    for (const args of [["-n"], []]) {
      const human = await safcm(["sync", "-C", conf, ...args, "evil"]);
      assert.equal(human.code, 0, human.stdout + human.stderr);
      assert.ok(!(human.stdout + human.stderr).includes("PRIVATE-KEY"), human.stdout);
      assert.match(
        human.stdout,
        /"\/etc\/key": content\n {3}\(diff withheld: the file is not readable by others\)\n/,
      );
      assert.match(human.stdout, /\+public motd/, "the public file's diff is shown");
      const json = await safcm(["sync", "-C", conf, "--json", ...args, "evil"]);
      assert.equal(json.code, 0, json.stderr);
      assert.ok(!(json.stdout + json.stderr).includes("PRIVATE-KEY"), json.stdout);
      const report = JSON.parse(json.stdout) as {
        hosts: { files: { path: string; diff: string | null; diff_hidden: string | null }[] }[];
      };
      assert.deepEqual(
        report.hosts[0]?.files.map((f) => [f.path, f.diff === null, f.diff_hidden]),
        [
          ["/etc/key", true, "mode"],
          ["/etc/motd", false, null],
        ],
      );
    }
  });

  for (const [behaviour, expected] of cases) {
    test(`${behaviour}: the host fails with a clear error, the other host syncs, the terminal stays clean`, async () => {
      const { base, fake } = hostileNode(behaviour);
      const hangs = expected === HANG;
      // Both levels at the same time, each with its own configuration and roots.
      await Promise.all(
        ["info", "debug2"].map(async (level) => {
          const goodRoot = join(base, `good-root-${level}`);
          mkdirSync(goodRoot);
          const conf = join(base, `conf-${level}`);
          writeTree(conf, {
            "hosts.yaml": [
              `- name: good\n  connection: local\n  root: ${goodRoot}`,
              `- name: evil\n  connection: local\n  root: ${join(base, `evil-root-${level}`)}\n  node: ${fake}`,
            ].join("\n"),
            "all/files/etc/motd": "hello\n",
          });
          const r = await safcm(["sync", "-C", conf, "-l", level, "all"], {
            // Only the helpers that hang wait for the timeout; the others get a
            // generous one that an honest helper (the good host) never nears.
            env: { SAFCM_HELPER_TIMEOUT: String(hangs ? HANG_TIMEOUT_S : 30) },
          });
          assert.equal(r.code, 1, r.stderr);
          assert.match(r.stdout, new RegExp(`^\\[evil\\] error: .*${expected.source}`, "m"));
          assert.match(r.stdout, /2 host\(s\): 1 changed, 0 unchanged, 1 failed/);
          assert.ok(
            !CONTROL.test(r.stdout),
            `no control character on stdout: ${JSON.stringify(r.stdout)}`,
          );
          assert.ok(
            !CONTROL.test(r.stderr),
            `no control character on stderr: ${JSON.stringify(r.stderr.slice(0, 500))}`,
          );
          assert.equal(
            readFileSync(join(goodRoot, "etc/motd"), "utf8"),
            "hello\n",
            "the other host synced",
          );
        }),
      );
    });
  }
});
