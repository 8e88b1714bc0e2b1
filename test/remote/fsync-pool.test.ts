// The parallel fsync of the file engine's batches (src/remote/fsync-pool.ts):
// it returns only after every descriptor was fsynced, and a failure names the
// descriptor it failed on, whichever thread met it. The worker threads start
// only after fsync() on the engine's thread has used up its time budget (here
// a clock of the test's, so that no assertion depends on the machine's speed).

import assert from "node:assert/strict";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FsyncFailed, FsyncPool, PARALLEL_FSYNC_MIN } from "../../src/remote/fsync-pool.ts";
import { removeDir, tempDir } from "./util.ts";

const COUNT = PARALLEL_FSYNC_MIN * 4;

/** `count` files with content in a new directory, open for writing; `fn` gets their descriptors. */
function withFiles(count: number, fn: (fds: number[]) => void): void {
  const dir = tempDir();
  const fds: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const fd = openSync(join(dir, `f${i}`), "w");
      writeSync(fd, `content ${i}\n`);
      fds.push(fd);
    }
    fn(fds);
  } finally {
    for (const fd of fds) closeSync(fd);
    removeDir(dir);
  }
}

/** A clock that advances `step` ms each time it is read. */
function clock(step: number): () => number {
  let t = 0;
  return () => (t += step);
}

/** Asserts that fsyncAll(fds with /dev/null at `at`) throws FsyncFailed naming `at` (EINVAL). */
function assertNamesFailure(pool: FsyncPool, fds: number[], devNull: number, at: number): void {
  const all = [...fds.slice(0, at), devNull, ...fds.slice(at + 1)];
  assert.throws(
    () => pool.fsyncAll(all),
    (err: unknown) =>
      err instanceof FsyncFailed &&
      err.index === at &&
      (err.cause as NodeJS.ErrnoException).code === "EINVAL",
  );
}

test("fsyncAll with the workers: many descriptors in parallel; a failing one is named by its position", () => {
  const pool = new FsyncPool(0); // no budget: the workers from the start
  const devNull = openSync("/dev/null", "r"); // cannot be fsynced (EINVAL)
  try {
    withFiles(COUNT, (fds) => {
      pool.fsyncAll(fds);
      assert.equal(pool.threads, 4);
      assertNamesFailure(pool, fds, devNull, 20);
      // The same below the parallel threshold, on this thread.
      assertNamesFailure(pool, fds.slice(0, 2), devNull, 1);
    });
  } finally {
    pool.close();
    closeSync(devNull);
  }
});

test("fsyncAll while fsync() is fast: everything on the engine's thread, no worker started", () => {
  const pool = new FsyncPool(20, () => 0); // a clock that stands still: the budget never runs out
  const devNull = openSync("/dev/null", "r");
  try {
    withFiles(COUNT, (fds) => {
      for (let i = 0; i < 5; i++) pool.fsyncAll(fds);
      assertNamesFailure(pool, fds, devNull, 20);
      assert.equal(pool.threads, 0);
    });
  } finally {
    pool.close();
    closeSync(devNull);
  }
});

test("fsyncAll once the budget is used up: the rest of that batch and every later one go to the workers", () => {
  // 1 ms per clock reading and a budget of 10 ms: the budget runs out after a few fsyncs.
  const pool = new FsyncPool(10, clock(1));
  const devNull = openSync("/dev/null", "r");
  try {
    withFiles(COUNT, (fds) => {
      // A failure among the first descriptors is met on the engine's thread ...
      assertNamesFailure(pool, fds, devNull, 2);
      assert.equal(pool.threads, 0, "the budget was not used up yet");
      pool.fsyncAll(fds);
      assert.equal(pool.threads, 4);
      // ... and from now on one in the middle by a worker.
      assertNamesFailure(pool, fds, devNull, 20);
    });
  } finally {
    pool.close();
    closeSync(devNull);
  }
});
