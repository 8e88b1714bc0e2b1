// The real helper bundle (dist/remote.js, started by the real bootstrap) on
// configurations of a size that broke it on real hosts (issue 9):
// - 101,000 entries in dry-run at the default level: the helper filters log
//   lines by level (SPEC 8), so the local side's flood limit is never near;
// - 1,100 directories under a hard limit of 256 descriptors: the walk holds
//   one descriptor per level (SPEC 6), and nothing is left at 0700.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, lstatSync, readdirSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { encodeFrame } from "../../src/protocol/frame.ts";
import type { FileEntry, LogLevel, SyncRequest } from "../../src/protocol/messages.ts";
import { MAX_LOG_LINES } from "../../src/session/connection.ts";
import { removeDir, talkToHelper, tempDir } from "../remote/util.ts";

interface Reply {
  messages: Array<Record<string, unknown>>;
  exitCode: number | null;
  stderr: string;
}

/** Runs the bundled helper (behind `prefix`, e.g. prlimit) on sync requests; every frame it sends is
 * validated. Standard input stays open until every request has its reply (talkToHelper). */
async function runHelper(requests: SyncRequest[], prefix: string[] = []): Promise<Reply> {
  const input = requests.flatMap((r) => encodeFrame(r));
  const talk = await talkToHelper(input, { prefix, replies: requests.length });
  return {
    messages: talk.frames.map((f) => f.header),
    exitCode: talk.exitCode,
    stderr: talk.stderr,
  };
}

function syncRequest(
  root: string,
  files: FileEntry[],
  dry_run: boolean,
  level: LogLevel,
): SyncRequest {
  return {
    type: "sync_request",
    dry_run,
    log_level: level,
    root,
    files,
    packages: [],
    services: [],
    triggers: [],
    commands: [],
  };
}

const responses = (r: Reply) => r.messages.filter((m) => m.type === "sync_response");
const logs = (r: Reply) => r.messages.filter((m) => m.type === "log");

test("101,000 entries in dry-run at the default level: a handful of log lines, far from the flood limit", async () => {
  const root = realpathSync(tempDir());
  chmodSync(root, 0o755);
  try {
    const content = Buffer.from("x\n");
    const sha256 = createHash("sha256").update(content).digest("hex");
    const files: FileEntry[] = [{ path: "/", type: "dir", mode: 0o755, user: 0, group: 0 }];
    for (let d = 0; d < 101; d++) {
      files.push({ path: `/d${d}`, type: "dir", mode: 0o755, user: 0, group: 0 });
      for (let f = 0; f < 999; f++) {
        files.push({
          path: `/d${d}/f${f}`,
          type: "file",
          mode: 0o644,
          user: 0,
          group: 0,
          size: 2,
          sha256,
        });
      }
    }
    assert.ok(files.length > 101_000);
    const reply = await runHelper([
      syncRequest(root, files, true, "info"),
      // The same helper at verbose: the lines are there, the level chose them.
      syncRequest(root, files.slice(0, 3), true, "verbose"),
    ]);
    assert.equal(reply.exitCode, 0, reply.stderr);
    const [big, small] = responses(reply);
    assert.equal(big?.error, null);
    assert.equal((big?.files as unknown[]).length, files.length - 1, "every entry is reported");
    const lines = logs(reply);
    const verbose = lines.filter((m) => m.level === "verbose");
    assert.deepEqual(
      verbose.map((m) => m.text),
      ['"/d0": would be created', '"/d0/f0": would be created'],
      "verbose lines only for the request that asked for them",
    );
    assert.equal(small?.error, null);
    assert.ok(lines.length < 10, `${lines.length} log lines`);
    assert.ok(lines.length < MAX_LOG_LINES / 1000);
  } finally {
    removeDir(root);
  }
});

test("1,100 directories under a hard limit of 256 descriptors sync fine, none left at 0700", async () => {
  const root = realpathSync(tempDir());
  chmodSync(root, 0o755);
  try {
    const files: FileEntry[] = [{ path: "/", type: "dir", mode: 0o755, user: 0, group: 0 }];
    for (let a = 0; a < 10; a++) {
      files.push({ path: `/a${a}`, type: "dir", mode: 0o755, user: 0, group: 0 });
      for (let b = 0; b < 109; b++) {
        files.push({ path: `/a${a}/b${b}`, type: "dir", mode: 0o750, user: 0, group: 0 });
      }
    }
    files.push({ path: "/z", type: "dir", mode: 0o755, user: 0, group: 0 });
    assert.equal(files.length, 1 + 1_100 + 1);
    const limit = ["prlimit", "--nofile=256:256", "--"];
    const first = await runHelper([syncRequest(root, files, false, "info")], limit);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.equal(responses(first)[0]?.error, null);
    let dirs = 0;
    for (const a of readdirSync(root)) {
      assert.equal(lstatSync(join(root, a)).mode & 0o7777, 0o755);
      for (const b of readdirSync(join(root, a))) {
        assert.equal(lstatSync(join(root, a, b)).mode & 0o7777, 0o750, `/${a}/${b}`);
        dirs++;
      }
    }
    assert.equal(dirs, 1_090);
    const second = await runHelper([syncRequest(root, files, false, "info")], limit);
    assert.deepEqual(responses(second)[0]?.files, [], "the second sync changes nothing");
  } finally {
    removeDir(root);
  }
});
