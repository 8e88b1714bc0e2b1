// A rollout in batches (SPEC 4 --batch, --max-fail): the hosts, in the order given, N at a
// time; the next batch starts only when the whole batch has ended, and none starts once more
// hosts have failed than the rollout tolerates. Inside a batch, -j still limits concurrency.

import { runPool } from "./pool.ts";

/** A number of hosts, given as a count ("5") or as a percentage of all hosts ("10%"). */
export type Amount = { count: number } | { percent: number };

export interface BatchPlan {
  /** Hosts per batch (the last batch may be smaller). */
  size: number;
  /** How many failed hosts are tolerated; once more have failed, no further batch starts. */
  maxFail: number;
  /** How many batches there are. */
  count: number;
}

/**
 * The plan for `total` hosts: a percentage of the batch size is rounded up (10% of 15 hosts
 * is 2 a batch, and never 0), a percentage of tolerated failures is exact (10% of 15 hosts
 * tolerates 1 failure: 2 are more than 1.5). max-fail defaults to 0: the first batch with a
 * failure is the last.
 */
export function batchPlan(total: number, batch: Amount, maxFail: Amount | null): BatchPlan {
  const size =
    "count" in batch ? batch.count : Math.max(1, Math.ceil((batch.percent * total) / 100));
  const tolerated =
    maxFail === null
      ? 0
      : "count" in maxFail
        ? maxFail.count
        : Math.floor((maxFail.percent * total) / 100);
  return { size, maxFail: tolerated, count: Math.max(1, Math.ceil(total / size)) };
}

export interface BatchEvents<T, R> {
  /** Whether a result is a failed host. */
  failed: (result: R) => boolean;
  /** The result of a host that never started, because an earlier batch failed too often. */
  skip: (item: T) => R;
  /** Called before each batch starts (index from 0). */
  onBatch?: (index: number, items: readonly T[]) => void;
  /** Called once when the rollout stops: `failed` hosts failed, `left` hosts never start. */
  onStop?: (failed: number, left: number) => void;
  /** True once the run is interrupted (SPEC 5.5): the remaining hosts then still go to fn,
   * which reports each as not contacted, as without batches; they are not "skipped". */
  interrupted?: () => boolean;
}

/**
 * Runs fn for every item, batch after batch, at most `jobs` at once inside a batch; returns the
 * results in the items' order, those of items never started made by `events.skip`.
 */
export async function runBatches<T, R>(
  items: readonly T[],
  plan: BatchPlan,
  jobs: number,
  fn: (item: T) => Promise<R>,
  events: BatchEvents<T, R>,
): Promise<R[]> {
  const results: R[] = [];
  let failed = 0;
  for (let start = 0; start < items.length; start += plan.size) {
    if (failed > plan.maxFail && events.interrupted?.() !== true) {
      const left = items.slice(start);
      events.onStop?.(failed, left.length);
      results.push(...left.map(events.skip));
      break;
    }
    const batch = items.slice(start, start + plan.size);
    events.onBatch?.(start / plan.size, batch);
    const done = await runPool(batch, jobs, fn);
    failed += done.filter(events.failed).length;
    results.push(...done);
  }
  return results;
}
