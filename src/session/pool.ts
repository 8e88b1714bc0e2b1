/**
 * Runs fn for every item, at most `jobs` at once, and returns the results in
 * the items' order. fn must not throw for an item's own failure (a failed host
 * is a result); an exception here is an internal error and rejects the pool.
 */
export async function runPool<T, R>(
  items: readonly T[],
  jobs: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return results;
}
