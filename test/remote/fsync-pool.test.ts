// The parallel fsync of the file engine's batches (src/remote/fsync-pool.ts):
// it returns only after every descriptor was fsynced, and a failure names the
// descriptor it failed on, whichever worker met it.

import assert from "node:assert/strict";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { FsyncFailed, FsyncPool, PARALLEL_FSYNC_MIN } from "../../src/remote/fsync-pool.ts";
import { removeDir, tempDir } from "./util.ts";

test("fsyncAll: many descriptors in parallel; a failing one is named by its position", () => {
  const dir = tempDir();
  const pool = new FsyncPool();
  const fds: number[] = [];
  try {
    for (let i = 0; i < PARALLEL_FSYNC_MIN * 4; i++) {
      const fd = openSync(join(dir, `f${i}`), "w");
      writeSync(fd, `content ${i}\n`);
      fds.push(fd);
    }
    pool.fsyncAll(fds);
    // /dev/null cannot be fsynced (EINVAL): the pool says which one failed.
    const devNull = openSync("/dev/null", "r");
    fds.push(devNull);
    const all = [...fds.slice(0, 20), devNull, ...fds.slice(20, -1)];
    assert.throws(
      () => pool.fsyncAll(all),
      (err: unknown) =>
        err instanceof FsyncFailed &&
        err.index === 20 &&
        (err.cause as NodeJS.ErrnoException).code === "EINVAL",
    );
    // The same below the parallel threshold, on this thread.
    assert.throws(
      () => pool.fsyncAll([fds[0], devNull]),
      (err: unknown) => err instanceof FsyncFailed && err.index === 1,
    );
  } finally {
    pool.close();
    for (const fd of fds) closeSync(fd);
    removeDir(dir);
  }
});
