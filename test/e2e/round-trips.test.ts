// SPEC 1.5 and the protocol's promise: a constant number of round trips per
// host whatever the number of files, unchanged content never travels, and
// changed content travels once. Read from the debug log of the real CLI.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { safcm, tempDir, writeTree, type Node } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir();
after(cleanup);

interface Traffic {
  roundTrips: number;
  sent: number;
  helper: number;
}

async function sync(conf: string, ...args: string[]): Promise<Traffic> {
  const r = await safcm(["sync", "-C", conf, "-l", "debug", ...args, "h"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const m = /(\d+) round trip\(s\); sent (\d+) bytes \(helper (\d+)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  return { roundTrips: Number(m[1]), sent: Number(m[2]), helper: Number(m[3]) };
}

function fixture(name: string, tree: Record<string, Node>): string {
  const conf = join(dir, name, "conf");
  const root = join(dir, name, "root");
  mkdirSync(root, { recursive: true });
  writeTree(conf, { "hosts.yaml": `- name: h\n  connection: local\n  root: ${root}\n`, ...tree });
  return conf;
}

const MiB = 1024 * 1024;

describe("traffic per host", { concurrency: true }, () => {
  test("the number of round trips does not grow with the number of files", async () => {
    const counts: Record<string, number[]> = {};
    for (const n of [3, 300]) {
      const tree: Record<string, Node> = {};
      for (let i = 0; i < n; i++) tree[`all/files/d${i % 7}/f${i}`] = `file ${i}\n`;
      const conf = fixture(`files-${n}`, tree);
      counts[n] = [
        (await sync(conf, "--dry-run")).roundTrips,
        (await sync(conf)).roundTrips,
        (await sync(conf)).roundTrips,
      ];
    }
    // dry-run: info + sync; first sync: info + sync + content; no-op: info + sync.
    assert.deepEqual(counts, { 3: [2, 3, 2], 300: [2, 3, 2] });
  });

  test("a no-op sync of 100 MiB sends less than 1 MiB; a first sync sends each byte once", async () => {
    const tree: Record<string, Node> = {};
    for (let i = 0; i < 100; i++) tree[`all/files/data/f${i}`] = randomBytes(MiB);
    const conf = fixture("big", tree);
    const first = await sync(conf);
    const overhead = first.sent - 100 * MiB - first.helper;
    assert.ok(overhead >= 0 && overhead < 64 * 1024, `first sync sent ${first.sent} bytes`);
    const noop = await sync(conf);
    assert.ok(noop.sent < MiB, `no-op sync sent ${noop.sent} bytes`);
    writeFileSync(join(conf, "all/files/data/f7"), randomBytes(MiB));
    const one = await sync(conf);
    assert.ok(one.sent > MiB && one.sent < 2 * MiB, `one changed file: sent ${one.sent} bytes`);
  });
});

test("-l debug ends with the local process's own CPU time (for bench/fleet.ts); lower levels do not", async () => {
  const conf = fixture("cpu", { "all/files/motd": "hi\n" });
  const debug = await safcm(["sync", "-C", conf, "-l", "debug", "h"]);
  assert.equal(debug.code, 0, debug.stderr);
  const m = /local CPU (\d+) ms \(user (\d+) ms, system (\d+) ms\), \d+ ms after start/.exec(
    debug.stderr,
  );
  assert.ok(m, debug.stderr);
  assert.ok(Number(m[1]) > 0);
  assert.ok(Math.abs(Number(m[1]) - Number(m[2]) - Number(m[3])) <= 1, m[0]);
  const verbose = await safcm(["sync", "-C", conf, "-l", "verbose", "h"]);
  assert.equal(verbose.code, 0, verbose.stderr);
  assert.doesNotMatch(verbose.stderr, /local CPU/);
});
