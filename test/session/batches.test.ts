// A rollout in batches (src/session/batches.ts, SPEC 4 --batch, --max-fail): N hosts at a
// time, the next batch only when the whole batch has ended, -j still limiting concurrency
// inside a batch, and no further batch once more hosts failed than tolerated; the hosts never
// started are results too, in their place.

import assert from "node:assert/strict";
import { test } from "node:test";
import { batchPlan, runBatches } from "../../src/session/batches.ts";

/** A promise the test settles by hand, so that the order of completion is chosen, not timed. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((res) => (resolve = res));
  return { promise, resolve };
}

/** Lets every pending promise reaction run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test("batch sizes: a count as given, a percentage of all hosts rounded up and never 0", () => {
  assert.deepEqual(batchPlan(10, { count: 3 }, null), { size: 3, maxFail: 0, count: 4 });
  assert.deepEqual(batchPlan(15, { percent: 10 }, null), { size: 2, maxFail: 0, count: 8 });
  assert.deepEqual(batchPlan(3, { percent: 1 }, null), { size: 1, maxFail: 0, count: 3 });
  assert.deepEqual(batchPlan(7, { percent: 100 }, null), { size: 7, maxFail: 0, count: 1 });
  assert.deepEqual(batchPlan(2, { count: 50 }, null), { size: 50, maxFail: 0, count: 1 });
});

test("tolerated failures: a count as given, a percentage of all hosts exactly (more than 1.5 is 2)", () => {
  assert.equal(batchPlan(15, { count: 1 }, { count: 4 }).maxFail, 4);
  assert.equal(batchPlan(15, { count: 1 }, { percent: 10 }).maxFail, 1);
  assert.equal(batchPlan(20, { count: 1 }, { percent: 10 }).maxFail, 2);
  assert.equal(batchPlan(20, { count: 1 }, { percent: 0 }).maxFail, 0);
  assert.equal(batchPlan(20, { count: 1 }, { percent: 100 }).maxFail, 20);
});

test("the next batch starts only when the whole batch has ended; -j limits each batch", async () => {
  const items = ["a", "b", "c", "d", "e"];
  const gates = new Map(items.map((i) => [i, deferred<string>()]));
  const started: string[] = [];
  const batches: string[][] = [];
  let running = 0;
  let most = 0;
  const run = runBatches(
    items,
    batchPlan(items.length, { count: 3 }, null),
    2,
    async (item) => {
      started.push(item);
      most = Math.max(most, ++running);
      try {
        return await gates.get(item)!.promise;
      } finally {
        running--;
      }
    },
    {
      failed: (r) => r === "failed",
      skip: (item) => `skipped ${item}`,
      onBatch: (_index, batch) => batches.push([...batch]),
    },
  );
  await settle();
  assert.deepEqual(started, ["a", "b"], "-j 2 inside a batch of 3");
  gates.get("b")!.resolve("ok");
  await settle();
  assert.deepEqual(started, ["a", "b", "c"], "c takes b's place: it is in the same batch");
  gates.get("c")!.resolve("ok");
  await settle();
  assert.deepEqual(started, ["a", "b", "c"], "d waits: a, of the same batch, is still running");
  gates.get("a")!.resolve("ok");
  await settle();
  assert.deepEqual(started, ["a", "b", "c", "d", "e"], "the second batch starts as a whole");
  gates.get("e")!.resolve("ok");
  gates.get("d")!.resolve("ok");
  assert.deepEqual(await run, ["ok", "ok", "ok", "ok", "ok"]);
  assert.equal(most, 2);
  assert.deepEqual(batches, [
    ["a", "b", "c"],
    ["d", "e"],
  ]);
});

test("once more hosts failed than tolerated, no further batch starts; the rest are skipped in their place", async () => {
  const items = ["a", "b", "c", "d", "e", "f", "g"];
  const fails = new Set(["b", "d"]);
  const started: string[] = [];
  const stops: [number, number][] = [];
  const events = {
    failed: (r: string) => r.endsWith("failed"),
    skip: (item: string) => `${item} skipped`,
    onStop: (failed: number, left: number) => stops.push([failed, left]),
  };
  const fn = async (item: string) => {
    started.push(item);
    await settle();
    return fails.has(item) ? `${item} failed` : `${item} ok`;
  };

  // Default: 0 tolerated; b fails in the first batch, which still ends whole.
  let results = await runBatches(items, batchPlan(7, { count: 2 }, null), 32, fn, events);
  assert.deepEqual(started, ["a", "b"]);
  assert.deepEqual(results, [
    "a ok",
    "b failed",
    "c skipped",
    "d skipped",
    "e skipped",
    "f skipped",
    "g skipped",
  ]);
  assert.deepEqual(stops, [[1, 5]]);

  // 1 tolerated: b's failure is not more than 1; d's is, after its batch ended.
  started.length = 0;
  stops.length = 0;
  results = await runBatches(items, batchPlan(7, { count: 2 }, { count: 1 }), 32, fn, events);
  assert.deepEqual(started, ["a", "b", "c", "d"]);
  assert.deepEqual(results.slice(4), ["e skipped", "f skipped", "g skipped"]);
  assert.deepEqual(stops, [[2, 3]]);

  // Failures in the last batch skip nothing; 2 tolerated: nothing is skipped.
  started.length = 0;
  stops.length = 0;
  results = await runBatches(items, batchPlan(7, { count: 3 }, { count: 2 }), 32, fn, events);
  assert.deepEqual(started, items);
  assert.deepEqual(stops, []);
  assert.ok(results.every((r) => !r.endsWith("skipped")));
});

test("after an interruption the remaining hosts still go to fn (which reports them as not contacted), not skipped", async () => {
  let interrupted = false;
  const results = await runBatches(
    ["a", "b", "c"],
    batchPlan(3, { count: 1 }, null),
    32,
    async (item) => {
      await settle();
      if (item === "a") {
        interrupted = true;
        return "a failed";
      }
      return `${item} interrupted`;
    },
    {
      failed: (r) => r.endsWith("failed") || r.endsWith("interrupted"),
      skip: (item) => `${item} skipped`,
      interrupted: () => interrupted,
    },
  );
  assert.deepEqual(results, ["a failed", "b interrupted", "c interrupted"]);
});
