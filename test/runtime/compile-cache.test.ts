// The compile cache of the CLI (src/runtime/compile-cache.ts): V8 code that safcm
// will run, so it is used only where nobody but this user (or root) can write, and
// only for the exact bundle it was made from. Through the real bin/safcm (a copy of
// the built package where a test changes the bundle), on a real file system as root,
// with uid 65534 as the other user.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { userInfo } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";
import { cacheDir } from "../../src/runtime/cache.ts";
import { cacheEntry, privateCompileCacheDir } from "../../src/runtime/compile-cache.ts";
import { REPO, tempDir, writeTree } from "../helpers/tree.ts";

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

/** A copy of the built package (bin/, dist/, package.json) below base, and a
 * configuration with one local host and one template. */
function installed(base: string): { pkg: string; conf: string } {
  const pkg = join(base, "pkg");
  for (const part of ["bin", "dist", "package.json"]) {
    cpSync(join(REPO, part), join(pkg, part), { recursive: true });
  }
  const conf = join(base, "conf");
  writeTree(conf, {
    "hosts.yaml": `- name: h1\n  connection: local\n  root: ${join(base, "root")}\n`,
    "all/files/etc/motd": "hello\n",
    "all/templates.yaml": "- /etc/hostname\n",
    "all/files/etc/hostname": "{{ host }}\n",
  });
  return { pkg, conf };
}

/** Runs the package's bin/safcm. */
function run(pkg: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [join(pkg, "bin", "safcm"), ...args], {
    env: { ...process.env, NO_COLOR: "1", ...env },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const compileDir = (env: NodeJS.ProcessEnv) => join(env.XDG_CACHE_HOME!, "safcm", "compile");

/** The cache entry of the package's bundle, and the bundle. */
function entryOf(pkg: string, env: NodeJS.ProcessEnv) {
  const bundle = readFileSync(join(pkg, "dist", "safcm.cjs"));
  const { name, header } = cacheEntry(bundle);
  return { path: join(compileDir(env), name), header, bundle };
}

/** What a rewrite changes: the inode (rename of a new file), size and mtime. */
function identity(path: string): string {
  const st = lstatSync(path);
  return `${st.ino} ${st.size} ${st.mtimeMs}`;
}

test(
  "the first command writes the cache entry (0600, for this bundle), the next ones use it without rewriting it",
  withCacheHome((base, env) => {
    const { pkg, conf } = installed(base);
    const first = run(pkg, ["check", "-C", conf], env);
    assert.equal(first.code, 0, first.stderr);
    const entry = entryOf(pkg, env);
    assert.deepEqual(readdirSync(compileDir(env)), [basename(entry.path)]);
    assert.equal(statSync(entry.path).mode & 0o777, 0o600);
    assert.ok(readFileSync(entry.path).subarray(0, 32).equals(entry.header));
    const written = identity(entry.path);
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(run(pkg, ["check", "-C", conf], env), first);
      assert.equal(identity(entry.path), written, "the entry was used, not rewritten");
    }
  }),
);

test(
  "a bundle changed to other content of the same length never runs the old one's cached code: neither the old entry nor one copied to the new name",
  withCacheHome((base, env) => {
    const { pkg, conf } = installed(base);
    const first = run(pkg, ["check", "-C", conf], env);
    assert.match(first.stdout, /host\(s\) checked/);
    const old = entryOf(pkg, env);
    const bundlePath = join(pkg, "dist", "safcm.cjs");
    const changed = old.bundle.toString("utf8").replace("host(s) checked", "host(s) CHECKED");
    assert.equal(Buffer.byteLength(changed), old.bundle.length);
    writeFileSync(bundlePath, changed);
    // The old entry's bytes under the new bundle's name: V8 alone would take them
    // (same source length) and run the old code.
    const renamed = entryOf(pkg, env);
    cpSync(old.path, renamed.path);
    const second = run(pkg, ["check", "-C", conf], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /host\(s\) CHECKED/);
    assert.ok(readFileSync(renamed.path).subarray(0, 32).equals(renamed.header), "replaced");
    assert.match(run(pkg, ["check", "-C", conf], env).stdout, /host\(s\) CHECKED/);
  }),
);

test(
  "writing an entry removes the entries and temporary files not written for a day, and only files named as entries",
  withCacheHome((base, env) => {
    const { pkg } = installed(base);
    mkdirSync(compileDir(env), { recursive: true, mode: 0o700 });
    const file = (name: string, daysOld: number) => {
      const path = join(compileDir(env), name);
      writeFileSync(path, name);
      const when = Date.now() / 1000 - daysOld * 86400;
      utimesSync(path, when, when);
      return path;
    };
    const hash = "0".repeat(64);
    const stale = file(`${hash}-v20.0.0-x64.v8`, 2);
    const staleTemp = file(`${hash}-v20.0.0-x64.v8.tmp-0123456789ab`, 2);
    const recent = file(`${"1".repeat(64)}-v24.0.0-x64.v8`, 0.5);
    const other = file("notes", 2);
    assert.equal(run(pkg, ["--version"], env).code, 0);
    assert.equal(existsSync(stale), false);
    assert.equal(existsSync(staleTemp), false);
    assert.equal(readFileSync(recent, "utf8"), basename(recent), "another installation's, recent");
    assert.equal(readFileSync(other, "utf8"), "notes");
    assert.ok(existsSync(entryOf(pkg, env).path));
  }),
);

test(
  "a truncated or garbage entry is rejected: the command works and the entry is written anew",
  withCacheHome((base, env) => {
    const { pkg, conf } = installed(base);
    const first = run(pkg, ["check", "-C", conf], env);
    const { path, header } = entryOf(pkg, env);
    const size = statSync(path).size;
    truncateSync(path, 32 + 1000);
    assert.deepEqual(run(pkg, ["check", "-C", conf], env), first);
    assert.ok(statSync(path).size > 32 + 1000, "rewritten after the truncated one");
    const garbage = Buffer.alloc(size - 32, 0x5a);
    writeFileSync(path, Buffer.concat([header, garbage]));
    const before = identity(path);
    assert.deepEqual(run(pkg, ["check", "-C", conf], env), first);
    assert.notEqual(identity(path), before, "rewritten after the garbage one");
    assert.equal(readFileSync(path).subarray(32).equals(garbage), false);
  }),
);

test(
  "an entry made by a command that ran little (--version) is replaced once by one that ran more, then kept",
  withCacheHome((base, env) => {
    const { pkg, conf } = installed(base);
    assert.equal(run(pkg, ["--version"], env).code, 0);
    const { path } = entryOf(pkg, env);
    const small = identity(path);
    assert.equal(run(pkg, ["--version"], env).code, 0);
    assert.equal(identity(path), small, "another --version keeps it");
    assert.equal(run(pkg, ["check", "-C", conf], env).code, 0);
    const full = identity(path);
    assert.notEqual(full, small);
    assert.ok(statSync(path).size > Number(small.split(" ")[1]));
    assert.equal(run(pkg, ["check", "-C", conf], env).code, 0);
    assert.equal(run(pkg, ["--version"], env).code, 0);
    assert.equal(identity(path), full);
  }),
);

test(
  "no entry is read or written where another user could write, nor with NODE_DISABLE_COMPILE_CACHE",
  withCacheHome((base, env) => {
    const { pkg, conf } = installed(base);
    const expected = run(pkg, ["check", "-C", conf], { ...env, NODE_DISABLE_COMPILE_CACHE: "1" });
    assert.equal(expected.code, 0, expected.stderr);
    assert.equal(existsSync(compileDir(env)), false, "NODE_DISABLE_COMPILE_CACHE writes nothing");

    mkdirSync(compileDir(env), { recursive: true, mode: 0o700 });
    chmodSync(compileDir(env), 0o777);
    assert.deepEqual(run(pkg, ["check", "-C", conf], env), expected);
    assert.deepEqual(readdirSync(compileDir(env)), [], "cache directory writable by others");

    chmodSync(compileDir(env), 0o700);
    chownSync(env.XDG_CACHE_HOME!, 65534, 65534);
    assert.deepEqual(run(pkg, ["check", "-C", conf], env), expected);
    assert.deepEqual(readdirSync(compileDir(env)), [], "cache home owned by uid 65534");

    chownSync(compileDir(env), 65534, 65534);
    chownSync(env.XDG_CACHE_HOME!, 0, 0);
    assert.deepEqual(run(pkg, ["check", "-C", conf], env), expected);
    assert.deepEqual(readdirSync(compileDir(env)), [], "cache directory owned by uid 65534");
  }),
);

test(
  "an entry that is a symbolic link is neither read nor written through",
  withCacheHome((base, env) => {
    const { pkg, conf } = installed(base);
    const expected = run(pkg, ["check", "-C", conf], env);
    const { path } = entryOf(pkg, env);
    const target = join(base, "target");
    cpSync(path, target);
    const targetBefore = identity(target);
    rmSync(path);
    symlinkSync(target, path);
    assert.deepEqual(run(pkg, ["check", "-C", conf], env), expected);
    assert.ok(lstatSync(path).isFile(), "a regular file replaced the link");
    assert.equal(identity(target), targetBefore, "the link's target is untouched");
  }),
);

test("an empty or relative HOME: the caches are below the home of the password database, never below the current directory", () => {
  const home = join(userInfo().homedir, ".cache", "safcm");
  assert.equal(cacheDir({ HOME: "" }), home);
  assert.equal(cacheDir({ HOME: "relative" }), home);
  assert.equal(cacheDir({ HOME: "/home/x", XDG_CACHE_HOME: "relative" }), "/home/x/.cache/safcm");
  assert.equal(cacheDir({ XDG_CACHE_HOME: "/c" }), "/c/safcm");
});
