// The host session labels every failure with the stage that was running (not with what the
// throw site guessed), and an internal error fails only its host, with its stack logged at
// level debug only. Real parts: the configuration loader, the local transport, the bundled
// helper, and a fake "node" (test/fixtures/hostile-helper.mjs) that misbehaves on cue.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import type { LogLevel } from "../../src/protocol/messages.ts";
import { syncHost, type SyncOptions } from "../../src/session/host.ts";
import { REPO, tempDir, writeTree, type Tree } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir();
after(cleanup);

/** A configuration with one local host "h" (root below dir); `node` replaces its Node.js,
 * `extra` is added to its hosts.yaml entry, `files` to the configuration directory. */
function setup(name: string, node?: string, extra = "", files: Tree = {}) {
  const base = join(dir, name);
  const root = join(base, "root");
  mkdirSync(root, { recursive: true });
  const conf = join(base, "conf");
  writeTree(conf, {
    "hosts.yaml": `- name: h\n  connection: local\n  root: ${root}${node === undefined ? "" : `\n  node: ${node}`}\n${extra}`,
    "all/files/etc/motd": "hello\n",
    ...files,
  });
  const config = loadConfig(conf);
  const host = config.hosts.find((h) => h.name === "h");
  assert.ok(host !== undefined);
  return { config, host, root };
}

function options(logs: [LogLevel, string][], extra: Partial<SyncOptions> = {}): SyncOptions {
  return {
    dryRun: false,
    timeoutMs: 15_000,
    logLevel: "debug",
    onLog: (_host, level, text) => logs.push([level, text]),
    ...extra,
  };
}

test('a helper that exits while the sync request is pending fails the host in stage "sync"', async () => {
  const base = join(dir, "exit");
  mkdirSync(base);
  // The fake's behaviour is its file name; it exits with the bootstrap's "Node.js too old"
  // status, which the transport explains as a connect problem.
  const fake = join(base, "exit-mid-sync.mjs");
  copyFileSync(join(REPO, "test/fixtures/hostile-helper.mjs"), fake);
  const { config, host } = setup("exit-host", fake);
  const result = await syncHost(config, host, options([]));
  assert.equal(result.ok, false);
  assert.match(result.error ?? "", /older than 18/);
  assert.equal(result.stage, "sync");
});

test('a host whose Node.js is missing fails in stage "connect" (the bootstrap never started the helper)', async () => {
  const { config, host } = setup("no-node", join(dir, "no-such-node"), "  runtime: host\n");
  const result = await syncHost(config, host, options([]));
  assert.equal(result.ok, false);
  assert.match(result.error ?? "", /node/i);
  assert.equal(result.stage, "connect", result.error ?? "");
});

test('an internal error while building fails only that host, in stage "build", its stack at debug only', async () => {
  const { config, host, root } = setup("internal");
  const logs: [LogLevel, string][] = [];
  // isTarget runs in the build stage (after detecting groups); a bug there is an internal error.
  const result = await syncHost(
    config,
    host,
    options(logs, {
      isTarget: () => {
        throw new TypeError("boom in isTarget");
      },
    }),
  );
  assert.equal(result.ok, false);
  assert.equal(result.error, "internal error: boom in isTarget");
  assert.equal(result.stage, "build");
  const stacks = logs.filter(([, text]) => /boom in isTarget\n\s+at /.test(text));
  assert.equal(stacks.length, 1, JSON.stringify(logs));
  assert.equal(stacks[0]?.[0], "debug");
  // Nothing was sent: the file is not there.
  assert.throws(() => copyFileSync(join(root, "etc/motd"), join(dir, "x")), /ENOENT/);

  // The same host syncs when nothing goes wrong (the failure was the bug, not the setup).
  const ok = await syncHost(config, host, options([]));
  assert.equal(ok.ok, true, ok.error ?? "");
  assert.equal(ok.stage, null);
});

test('a configuration mistake found while building (a HostError) is reported in stage "build"', async () => {
  // Packages need root "/" (SPEC 3.2): the local side refuses while building this host.
  const { config, host } = setup("build-error", undefined, "", {
    "all/packages.yaml": "- nginx\n",
  });
  const logs: [LogLevel, string][] = [];
  const result = await syncHost(config, host, options(logs));
  assert.equal(result.ok, false);
  assert.match(result.error ?? "", /^packages need root "\/"/);
  assert.equal(result.stage, "build");
  assert.deepEqual(
    logs.filter(([, text]) => text.includes("internal error")),
    [],
    "a user error, not an internal one",
  );
});
