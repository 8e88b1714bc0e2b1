// fsync of many files at once (issue 12: a first sync of many files spent
// most of its time in one fsync after another). The file engine is
// synchronous, so the descriptors are handed to a few worker threads, which
// share the process's descriptor table and call fsync() in parallel, while
// the engine waits (Atomics.wait) until every one has returned. The file
// system then commits them together instead of one journal commit per file.
//
// Durability is unchanged: fsyncAll() returns only after fsync() returned
// successfully for every descriptor given, so each file's content, owner and
// mode are on disk before the engine renames it into place; a descriptor
// whose fsync failed is fsynced again on this thread, which throws its error.
//
// The workers start only once fsync() has proved slow: each costs about 27 ms
// of CPU to start (4 of them: 108 ms, Node.js 20 on the 2-core test machine),
// more than a whole first sync of a few dozen files spends in fsync() on
// tmpfs, on a disk with a write-back cache or on this machine's virtual disk
// (32 files: 0.1 ms on tmpfs, 5 ms on ext4). So fsync() runs on the engine's
// thread until the helper's run has spent SEQUENTIAL_BUDGET_MS in it; what is
// left then, and every later batch, goes to the workers.

import { fsyncSync } from "node:fs";
import { Worker } from "node:worker_threads";

/** Below this many files the workers' start costs more than it saves. */
export const PARALLEL_FSYNC_MIN = 8;
/** Time in fsync() on the engine's thread (per helper run) after which the workers start. */
export const SEQUENTIAL_BUDGET_MS = 20;
const WORKERS = 4;
const MAX_FDS = 1024;
/** No fsync finished for this long: the rest is done on the engine's thread. */
const STALL_MS = 120_000;

// state[0]: descriptors done; state[1 + i]: 1 when the i-th fsync succeeded, 2 when it failed.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { fsyncSync } = require("node:fs");
const state = new Int32Array(workerData);
parentPort.on("message", (jobs) => {
  for (const [slot, fd] of jobs) {
    let ok = 1;
    try { fsyncSync(fd); } catch { ok = 2; }
    Atomics.store(state, 1 + slot, ok);
    Atomics.add(state, 0, 1);
    Atomics.notify(state, 0);
  }
});
`;

/** The fsync of the `index`-th descriptor failed with `cause`. */
export class FsyncFailed extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "FsyncFailed";
  }
}

/** fsync() of one descriptor after the other from `from` on; throws FsyncFailed. */
function fsyncEach(
  fds: readonly number[],
  skip: (index: number) => boolean = () => false,
  from = 0,
): void {
  for (let index = from; index < fds.length; index++) {
    if (skip(index)) continue;
    try {
      fsyncSync(fds[index]);
    } catch (err) {
      throw new FsyncFailed(index, err);
    }
  }
}

export class FsyncPool {
  private workers: Worker[] = [];
  private readonly state = new Int32Array(new SharedArrayBuffer(4 * (1 + MAX_FDS)));
  /** Milliseconds spent so far in fsync() on the engine's thread. */
  private sequentialMs = 0;

  /** `budgetMs` and `now` are for the tests (SEQUENTIAL_BUDGET_MS, performance.now). */
  constructor(
    private readonly budgetMs = SEQUENTIAL_BUDGET_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Worker threads started (0 until fsync() has used up the budget). */
  get threads(): number {
    return this.workers.length;
  }

  private start(): Worker[] {
    if (this.workers.length === 0) {
      for (let i = 0; i < WORKERS; i++) {
        const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.state.buffer });
        worker.unref();
        // A worker that fails must not end the helper: what it did not do is
        // done on the engine's thread after STALL_MS.
        worker.on("error", () => {});
        this.workers.push(worker);
      }
    }
    return this.workers;
  }

  /** fsync() of every descriptor; returns when all are durable, throws FsyncFailed for the first failure. */
  fsyncAll(fds: readonly number[]): void {
    if (fds.length < PARALLEL_FSYNC_MIN || fds.length > MAX_FDS) return fsyncEach(fds);
    const from = this.workers.length > 0 ? 0 : this.sequential(fds);
    if (fds.length - from < PARALLEL_FSYNC_MIN) return fsyncEach(fds, () => false, from);
    let workers: Worker[];
    try {
      workers = this.start();
    } catch {
      // No threads here (a limit): one after another, as before.
      return fsyncEach(fds, () => false, from);
    }
    this.state.fill(0);
    const jobs: [number, number][][] = workers.map(() => []);
    for (let slot = from; slot < fds.length; slot++)
      jobs[slot % workers.length].push([slot, fds[slot]]);
    workers.forEach((worker, i) => worker.postMessage(jobs[i]));
    // Waits while the workers make progress; one that stalls for STALL_MS
    // (a worker that died) leaves its descriptors to this thread below.
    for (;;) {
      const done = Atomics.load(this.state, 0);
      if (done >= fds.length - from) break;
      if (Atomics.wait(this.state, 0, done, STALL_MS) === "timed-out") break;
    }
    // A failed (or never done) fsync is done here, where its error can be thrown.
    fsyncEach(fds, (slot) => Atomics.load(this.state, 1 + slot) === 1, from);
  }

  /** fsync() on this thread while the budget lasts; returns how many descriptors it did. */
  private sequential(fds: readonly number[]): number {
    const began = this.now();
    let done = 0;
    try {
      for (; done < fds.length; done++) {
        if (this.sequentialMs + (this.now() - began) >= this.budgetMs) break;
        try {
          fsyncSync(fds[done]);
        } catch (err) {
          throw new FsyncFailed(done, err);
        }
      }
    } finally {
      this.sequentialMs += this.now() - began;
    }
    return done;
  }

  close(): void {
    for (const worker of this.workers) void worker.terminate();
    this.workers = [];
  }
}
