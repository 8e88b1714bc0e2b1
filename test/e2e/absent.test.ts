// End-to-end: absent.yaml (SPEC 3.5, issue 20 item 1) with the real CLI, over the local
// connection (a real helper child process with a root) and over ssh (a private sshd on
// 127.0.0.1): a file and an empty directory named absent are removed and reported removed,
// the trigger above them fires, the next sync is unchanged, a dry-run reports the removals
// and changes nothing, and a non-empty directory named absent fails the host before any
// change.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { JsonReport } from "../../src/report/json-types.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { safcm, snapshot, tempDir, writeTree, type Tree } from "../helpers/tree.ts";

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

interface Fixture {
  root: string;
  run: (...args: string[]) => ReturnType<typeof safcm>;
  json: (...args: string[]) => Promise<JsonReport>;
}

/** A configuration directory `tree` with one host h1 (hosts.yaml entry from `host`, given
 * its root) whose root is a fresh directory holding `onHost`. */
function fixture(tree: Tree, onHost: Tree, host: (root: string) => string, config = ""): Fixture {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const conf = join(dir, "conf");
  const root = join(dir, "root");
  mkdirSync(root, { mode: 0o755 });
  writeTree(root, onHost);
  writeTree(conf, { ...tree, "hosts.yaml": host(root), "config.yaml": config });
  const run = (...args: string[]) => safcm(["sync", "-C", conf, ...args]);
  const json = async (...args: string[]) => {
    const r = await run("--json", ...args);
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as JsonReport;
  };
  return { root, run, json };
}

const CONFIG: Tree = {
  "all/files/etc/app/app.conf": "new\n",
  "all/triggers.yaml": '/etc/app:\n  - echo "fired $SAFCM_TRIGGER" >> log\n',
  "all/absent.yaml": "- /etc/app/old.conf\n- /etc/app/old.d\n- /etc/app/never-there\n",
};

const ON_HOST: Tree = {
  "etc/app/app.conf": "new\n",
  "etc/app/old.conf": "deployed by an earlier configuration\n",
  "etc/app/old.d": { dir: true },
};

async function removes(f: Fixture): Promise<void> {
  const before = snapshot(f.root);
  const dry = await f.run("-n", "h1");
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /\[h1\] changed 2 file\(s\): \(dry-run\)/);
  assert.match(dry.stdout, /\[h1\] "\/etc\/app\/old\.conf": removed, file\n/);
  assert.match(dry.stdout, /\[h1\] "\/etc\/app\/old\.d": removed, dir\n/);
  assert.match(
    dry.stdout,
    /"echo \\"fired \$SAFCM_TRIGGER\\" >> log" \(trigger for "\/etc\/app"\)/,
  );
  const dryJson = await f.json("-n", "h1");
  assert.equal(dryJson.dry_run, true);
  assert.deepEqual(
    dryJson.hosts[0].files.map((x) => [x.path, x.removed, x.old?.type, x.new, x.diff]),
    [
      ["/etc/app/old.conf", true, "file", null, null],
      ["/etc/app/old.d", true, "dir", null, null],
    ],
  );
  assert.deepEqual(snapshot(f.root), before, "the dry-run changed nothing");

  const real = await f.json("h1");
  assert.equal(real.hosts[0].ok, true, real.hosts[0].error ?? "");
  assert.deepEqual(real.hosts[0].files, dryJson.hosts[0].files, "done as the dry-run said");
  assert.ok(!existsSync(join(f.root, "etc/app/old.conf")));
  assert.ok(!existsSync(join(f.root, "etc/app/old.d")));
  assert.equal(readFileSync(join(f.root, "etc/app/app.conf"), "utf8"), "new\n");
  assert.deepEqual(
    real.hosts[0].commands.map((c) => [c.trigger, c.exit_code]),
    [["/etc/app", 0]],
  );
  assert.equal(readFileSync(join(f.root, "log"), "utf8"), "fired /etc/app\n");

  const after = snapshot(f.root);
  const again = await f.run("h1");
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /\[h1\]/, "the next sync is unchanged");
  assert.match(again.stdout, /1 host\(s\): 0 changed, 1 unchanged/);
  assert.deepEqual(snapshot(f.root), after, "and changes nothing");
}

async function refusesNonEmpty(f: Fixture): Promise<void> {
  const before = snapshot(f.root);
  const r = await f.run("h1");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /"\/etc\/full": will not remove non-empty directory/);
  assert.deepEqual(snapshot(f.root), before, "nothing changed: found while deciding");
}

const NON_EMPTY: Tree = {
  "all/files/etc/motd": "hello\n",
  "all/absent.yaml": "- /etc/full\n",
};

describe("absent.yaml over the local connection", { concurrency: true }, () => {
  const local = (root: string) => `- name: h1\n  connection: local\n  root: ${root}\n`;

  test("removes a file and an empty directory, fires the trigger above them; then unchanged", async () => {
    await removes(fixture(CONFIG, ON_HOST, local));
  });

  test("a non-empty directory named absent fails the host before any change", async () => {
    await refusesNonEmpty(fixture(NON_EMPTY, { "etc/full/data": "keep\n" }, local));
  });
});

describe("absent.yaml over ssh", { concurrency: true }, () => {
  let sshd: Sshd | undefined;
  before(async () => {
    sshd = await startSshd(["h1"]);
  });
  after(async () => {
    await sshd?.stop();
  });
  const remote = (root: string) => `- name: h1\n  root: ${root}\n`;
  const config = () => `ssh_config: ${sshd?.config ?? ""}\n`;

  test("removes a file and an empty directory, fires the trigger above them; then unchanged", async () => {
    await removes(fixture(CONFIG, ON_HOST, remote, config()));
  });

  test("a non-empty directory named absent fails the host before any change", async () => {
    await refusesNonEmpty(fixture(NON_EMPTY, { "etc/full/data": "keep\n" }, remote, config()));
  });
});
