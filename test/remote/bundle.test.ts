// The helper bundle travels to every host on every sync: it must contain only
// the helper and the protocol (no local-side code, no npm packages) and stay small.
// The inputs are checked by bundling src/remote/main.ts here, independently of
// scripts/build.js (whose own check aborts the build and leaves dist/ stale).

import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { build } from "esbuild";
import { REPO } from "../helpers/tree.ts";

/** Budget for dist/remote.js; raise it only with a reason in the commit message. */
const BUNDLE_BUDGET = 72 * 1024;

test("the helper bundle is built only from src/remote and src/protocol", async () => {
  const { metafile } = await build({
    absWorkingDir: REPO,
    entryPoints: ["src/remote/main.ts"],
    bundle: true,
    platform: "node",
    target: "node18",
    format: "iife",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(metafile.inputs);
  assert.ok(inputs.includes("src/remote/main.ts"));
  assert.ok(inputs.includes("src/protocol/frame.ts"));
  assert.deepEqual(
    inputs.filter((i) => !i.startsWith("src/remote/") && !i.startsWith("src/protocol/")),
    [],
  );
  // Everything else the helper needs is a node: builtin, left to the host's Node.js.
  const external = Object.values(metafile.inputs).flatMap((i) =>
    i.imports.filter((imp) => imp.external).map((imp) => imp.path),
  );
  assert.deepEqual(
    external.filter((p) => !p.startsWith("node:")),
    [],
  );
});

test(`the helper bundle that ships stays below ${BUNDLE_BUDGET / 1024} KiB`, () => {
  const size = statSync(join(REPO, "dist/remote.js")).size;
  assert.ok(size < BUNDLE_BUDGET, `dist/remote.js is ${size} bytes`);
});
