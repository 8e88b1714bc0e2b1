// Runs every test/**/*.test.ts with node:test (TypeScript through tsx).
// Usage: node scripts/run-tests.js [substring...] [--exclude=substring...]
// (only files whose path contains one of the substrings, and none of the excluded ones;
// `npm run test:unit` leaves out the end-to-end and security suites)
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? find(join(dir, e.name))
      : e.name.endsWith(".test.ts")
        ? [join(dir, e.name)]
        : [],
  );
}
const EXCLUDE = "--exclude=";
const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith(EXCLUDE));
const excluded = args.filter((a) => a.startsWith(EXCLUDE)).map((a) => a.slice(EXCLUDE.length));
const files = find("test")
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .filter((f) => !excluded.some((s) => f.includes(s)))
  .sort();
const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=4", "--test-timeout=300000", ...files],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
