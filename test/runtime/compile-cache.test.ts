// The compile cache of the CLI (src/runtime/compile-cache.ts): V8 code that safcm
// will run, so it is used only where nobody but this user (or root) can write, on a
// real file system as root, with uid 65534 as the other user.

import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, symlinkSync } from "node:fs";
import module from "node:module";
import { userInfo } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { cacheDir } from "../../src/runtime/cache.ts";
import { privateCompileCacheDir } from "../../src/runtime/compile-cache.ts";
import { safcm, tempDir } from "../helpers/tree.ts";

/** A cache home below a fresh 0755 root-owned directory, as XDG_CACHE_HOME. */
function withCacheHome(fn: (base: string, env: NodeJS.ProcessEnv) => void | Promise<void>) {
  return async () => {
    const { dir, cleanup } = tempDir("safcm-compile-");
    try {
      const home = join(dir, "cache");
      mkdirSync(home, { mode: 0o700 });
      await fn(dir, { XDG_CACHE_HOME: home });
    } finally {
      cleanup();
    }
  };
}

test(
  "a private cache home gets safcm/compile, created 0700",
  withCacheHome((_, env) => {
    const dir = privateCompileCacheDir(env, 0);
    assert.equal(dir, join(env.XDG_CACHE_HOME!, "safcm", "compile"));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(env.XDG_CACHE_HOME!, "safcm")).mode & 0o777, 0o700);
  }),
);

test(
  "no cache where another user could write: a directory writable by others, one owned by another user, a symbolic link on the way",
  withCacheHome((base, env) => {
    const home = env.XDG_CACHE_HOME!;
    chmodSync(home, 0o777);
    assert.equal(privateCompileCacheDir(env, 0), null, "writable by others");
    chmodSync(home, 0o700);
    chownSync(home, 65534, 65534);
    assert.equal(privateCompileCacheDir(env, 0), null, "owned by uid 65534");
    chownSync(home, 0, 0);
    chmodSync(join(home, "safcm", "compile"), 0o777);
    assert.equal(
      privateCompileCacheDir(env, 0),
      null,
      "the cache directory itself writable by others",
    );
    chmodSync(join(home, "safcm", "compile"), 0o700);
    assert.notEqual(privateCompileCacheDir(env, 0), null);
    const link = join(base, "link");
    symlinkSync(home, link);
    assert.equal(privateCompileCacheDir({ XDG_CACHE_HOME: link }, 0), null, "symbolic link");
  }),
);

test(
  "a sticky directory writable by all (such as /tmp) on the way is accepted",
  withCacheHome((base, env) => {
    chmodSync(base, 0o1777);
    assert.equal(privateCompileCacheDir(env, 0), join(env.XDG_CACHE_HOME!, "safcm", "compile"));
  }),
);

const hasCompileCache =
  typeof (module as { enableCompileCache?: unknown }).enableCompileCache === "function";

test(
  "the CLI fills the private cache when the running Node.js has one",
  { skip: hasCompileCache ? false : `Node.js ${process.version} has no compile cache (>= 22.1)` },
  withCacheHome(async (_, env) => {
    const run = await safcm(["--version"], { env });
    assert.equal(run.code, 0, run.stderr);
    const dir = join(env.XDG_CACHE_HOME!, "safcm", "compile");
    assert.ok(readdirSync(dir).length > 0, "a cache entry was written");
    assert.equal((await safcm(["--version"], { env })).stdout, run.stdout);
  }),
);

test("an empty or relative HOME: the caches are below the home of the password database, never below the current directory", () => {
  const home = join(userInfo().homedir, ".cache", "safcm");
  assert.equal(cacheDir({ HOME: "" }), home);
  assert.equal(cacheDir({ HOME: "relative" }), home);
  assert.equal(cacheDir({ HOME: "/home/x", XDG_CACHE_HOME: "relative" }), "/home/x/.cache/safcm");
  assert.equal(cacheDir({ XDG_CACHE_HOME: "/c" }), "/c/safcm");
});
