// The helper bundle travels to every host on every sync: it must contain only
// the helper and the protocol (no local-side code, no npm packages) and stay small.

import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO } from "../helpers/tree.ts";

/** Budget for dist/remote.js; raise it only with a reason in the commit message. */
const BUNDLE_BUDGET = 48 * 1024;

test("the helper bundle is built only from src/remote and src/protocol", () => {
  const inputs = JSON.parse(
    readFileSync(join(REPO, "dist/remote-inputs.json"), "utf8"),
  ) as string[];
  assert.ok(inputs.includes("src/remote/main.ts"));
  assert.deepEqual(
    inputs.filter((i) => !i.startsWith("src/remote/") && !i.startsWith("src/protocol/")),
    [],
  );
});

test(`the helper bundle stays below ${BUNDLE_BUDGET / 1024} KiB`, () => {
  const size = statSync(join(REPO, "dist/remote.js")).size;
  assert.ok(size < BUNDLE_BUDGET, `dist/remote.js is ${size} bytes`);
});
