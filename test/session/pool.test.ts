// The -j N pool (src/session/pool.ts): at most N items at once, every item
// exactly once, results in the items' order whatever order they finish in; a
// failed host is a result and does not stop the others; an exception is an
// internal error and rejects the pool.

import assert from "node:assert/strict";
import { test } from "node:test";
import { runPool } from "../../src/session/pool.ts";

/** A promise the test settles by hand, so that the order of completion is chosen, not timed. */
function deferred<T>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: Error) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise reaction run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test("at most N items run at once; each starts as soon as one ends; results keep the input order", async () => {
  const items = ["a", "b", "c", "d", "e", "f", "g"];
  const gates = new Map(items.map((i) => [i, deferred<string>()]));
  const started: string[] = [];
  let running = 0;
  let most = 0;
  const pool = runPool(items, 3, async (item) => {
    started.push(item);
    running++;
    most = Math.max(most, running);
    try {
      return `${await gates.get(item)!.promise} ${item}`;
    } finally {
      running--;
    }
  });
  await settle();
  assert.deepEqual(started, ["a", "b", "c"], "three at once");
  // Finish out of order: c first, then a; each frees one place for the next item.
  gates.get("c")!.resolve("done");
  await settle();
  assert.deepEqual(started, ["a", "b", "c", "d"]);
  gates.get("a")!.resolve("done");
  await settle();
  assert.deepEqual(started, ["a", "b", "c", "d", "e"]);
  for (const item of ["g", "f", "e", "d", "b"]) {
    gates.get(item)!.resolve("done");
    await settle();
  }
  assert.deepEqual(
    await pool,
    items.map((i) => `done ${i}`),
  );
  assert.equal(most, 3);
  assert.deepEqual([...started].sort(), items, "each item ran exactly once");
});

test("a failed item is a result: the others still run and report", async () => {
  const items = [1, 2, 3, 4, 5, 6];
  const seen: number[] = [];
  const results = await runPool(items, 2, async (n) => {
    seen.push(n);
    await settle();
    return n === 2 ? { n, error: "host unreachable" } : { n, error: null };
  });
  assert.deepEqual(
    results,
    items.map((n) => ({ n, error: n === 2 ? "host unreachable" : null })),
  );
  assert.deepEqual([...seen].sort(), items);
});

test("-j larger than the number of items, -j 1 and no items at all", async () => {
  let running = 0;
  let most = 0;
  const track = async (n: number) => {
    running++;
    most = Math.max(most, running);
    await settle();
    running--;
    return n * 10;
  };
  assert.deepEqual(await runPool([1, 2, 3], 50, track), [10, 20, 30]);
  assert.equal(most, 3);
  most = 0;
  assert.deepEqual(await runPool([1, 2, 3], 1, track), [10, 20, 30]);
  assert.equal(most, 1, "-j 1 runs one after the other");
  most = 0;
  assert.deepEqual(await runPool([1, 2], 0, track), [10, 20], "-j 0 still runs every item");
  assert.equal(most, 1);
  assert.deepEqual(await runPool([], 4, track), []);
});

test("an exception (an internal error, not a host's failure) rejects the pool", async () => {
  await assert.rejects(
    runPool([1, 2, 3], 2, async (n) => {
      await settle();
      if (n === 2) throw new Error("internal: bug");
      return n;
    }),
    /internal: bug/,
  );
});
