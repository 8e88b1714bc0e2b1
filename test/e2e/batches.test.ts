// A rollout in batches end to end (SPEC 4 --batch, --max-fail): the real CLI over a private
// sshd on 127.0.0.1 and over the local connection, with one host whose sync fails (its
// commands.yaml exits 3, as a bad sshd_config's validation would): the hosts of later batches
// are never contacted, both reports list them as skipped, and the exit status is 1.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { JsonReport } from "../../src/report/json-types.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { safcm, tempDir, writeTree } from "../helpers/tree.ts";

let sshd: Sshd;
const cleanups: (() => void)[] = [];

before(async () => {
  sshd = await startSshd(["h1", "h2", "h3", "h4"]);
});
after(async () => {
  cleanups.forEach((c) => c());
  // undefined when the set-up failed: then there is nothing to stop
  await (sshd as Sshd | undefined)?.stop();
});

interface Fixture {
  roots: Record<string, string>;
  run: (...args: string[]) => ReturnType<typeof safcm>;
}

const HOSTS = ["h1", "h2", "h3", "h4"];

/** Four hosts, each with its own root; h2's sync fails at its command (after its files). */
function fixture(connection: "ssh" | "local"): Fixture {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const conf = join(dir, "conf");
  const roots: Record<string, string> = {};
  const yaml = HOSTS.map((h) => {
    roots[h] = join(dir, `root-${h}`);
    mkdirSync(roots[h], { mode: 0o755 });
    return `- name: ${h}\n  root: ${roots[h]}\n${connection === "local" ? "  connection: local\n" : ""}`;
  });
  writeTree(conf, {
    "hosts.yaml": yaml.join(""),
    "config.yaml": connection === "ssh" ? `ssh_config: ${sshd.config}\n` : "",
    "all/files/etc/motd": "rolled out\n",
    "h2/commands.yaml": '- "echo broken config; exit 3"\n',
  });
  return { roots, run: (...args) => safcm(["sync", "-C", conf, ...args]) };
}

const synced = (f: Fixture, h: string) => existsSync(join(f.roots[h], "etc/motd"));

function parse(stdout: string): JsonReport {
  return JSON.parse(stdout) as JsonReport;
}

for (const connection of ["ssh", "local"] as const) {
  describe(`batches over the ${connection} connection`, { concurrency: true }, () => {
    test("a failing host stops the rollout after its batch; the others are skipped in both reports", async () => {
      const f = fixture(connection);
      const r = await f.run("--batch", "2", "all");
      assert.equal(r.code, 1, r.stderr);
      // Batch 1 (h1, h2) ends whole: h1 is synced although h2 failed beside it.
      assert.ok(synced(f, "h1"));
      assert.ok(synced(f, "h2"), "h2 failed at its command, after its files");
      for (const h of ["h3", "h4"]) assert.deepEqual(readdirSync(f.roots[h]), [], `${h} untouched`);
      assert.match(r.stdout, /^\[h2\] error: command "echo broken config; exit 3" failed/m);
      const skipped = r.stdout.split("\n").filter((l) => l.includes("skipped,"));
      assert.deepEqual(skipped, [
        "[h3] skipped, not started: 1 host(s) failed and --max-fail allows 0",
        "[h4] skipped, not started: 1 host(s) failed and --max-fail allows 0",
      ]);
      assert.match(
        r.stdout,
        /\n4 host\(s\): 1 changed, 0 unchanged, 1 failed, 2 skipped; commands ran on 1 host\(s\)\n$/,
      );
      assert.match(
        r.stderr,
        /1 host\(s\) failed and --max-fail allows 0: 2 host\(s\) in 1 batch\(es\) not started/,
      );

      // The same again as JSON: h3 and h4 are still never contacted.
      const json = await f.run("--json", "--batch", "50%", "all");
      assert.equal(json.code, 1, json.stderr);
      const report = parse(json.stdout);
      assert.deepEqual(
        report.hosts.map((h) => [h.name, h.ok, h.skipped]),
        [
          ["h1", true, false],
          ["h2", false, false],
          ["h3", false, true],
          ["h4", false, true],
        ],
      );
      assert.equal(report.hosts[2].error, "not started: 1 host(s) failed and --max-fail allows 0");
      assert.deepEqual(report.hosts[2].groups, []);
      for (const h of ["h3", "h4"]) assert.deepEqual(readdirSync(f.roots[h]), []);
    });

    test("hosts go in command-line, then sorted order: the canary named first fails alone", async () => {
      const f = fixture(connection);
      const r = await f.run("--json", "--batch", "1", "h2", "all");
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(
        parse(r.stdout).hosts.map((h) => [h.name, h.skipped]),
        [
          ["h2", false],
          ["h1", true],
          ["h3", true],
          ["h4", true],
        ],
      );
      for (const h of ["h1", "h3", "h4"]) assert.deepEqual(readdirSync(f.roots[h]), []);
    });

    test("--max-fail tolerates failures (a count, or a percentage of all hosts); the exit status still says one failed", async () => {
      for (const maxFail of ["1", "25%"]) {
        const f = fixture(connection);
        const r = await f.run("--json", "--batch", "1", "--max-fail", maxFail, "all");
        assert.equal(r.code, 1, r.stderr);
        const report = parse(r.stdout);
        assert.deepEqual(
          report.hosts.map((h) => [h.name, h.ok, h.skipped]),
          [
            ["h1", true, false],
            ["h2", false, false],
            ["h3", true, false],
            ["h4", true, false],
          ],
          maxFail,
        );
        for (const h of HOSTS) assert.ok(synced(f, h), `${h} with --max-fail ${maxFail}`);
      }
    });

    test("without --batch a failing host never stops the others", async () => {
      const f = fixture(connection);
      const r = await f.run("-j", "1", "all");
      assert.equal(r.code, 1, r.stderr);
      for (const h of HOSTS) assert.ok(synced(f, h), h);
      assert.doesNotMatch(r.stdout, /skipped/);
      assert.match(
        r.stdout,
        /\n4 host\(s\): 3 changed, 0 unchanged, 1 failed; commands ran on 1 host\(s\)\n$/,
      );
    });
  });
}
