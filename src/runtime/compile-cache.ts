// V8's compiled code of the CLI bundle kept between runs, on every Node.js version:
// bin/safcm calls runBundle, which compiles dist/safcm.cjs with vm.Script and the
// cached data of an earlier run, runs it as a CommonJS module and, after the command,
// writes the cached data when there was none (or V8 rejected it). The entry's name
// binds it to the exact bundle (sha256 of its bytes), the Node.js version and the
// architecture: V8 itself checks only the source's length and its own version, and
// data compiled from other code must never run. The cache holds code that safcm will
// run, often as root, so it is used only in safcm's cache directory (cache.ts) and
// only when every directory on the way there is a real directory (no symbolic link)
// of this user or root that nobody else can write to (a sticky one such as /tmp
// aside); otherwise safcm starts without it. Any error reading or writing the cache
// means starting without it. NODE_DISABLE_COMPILE_CACHE=1 turns it off, as it does
// Node.js's own compile cache.

import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join } from "node:path";
import { Script } from "node:vm";
import { cacheDir } from "./cache.ts";

/** The compile cache's directory (created 0700 if missing), or null where someone else could write to it. */
export function privateCompileCacheDir(
  env: NodeJS.ProcessEnv = process.env,
  uid: number = process.geteuid?.() ?? 0,
): string | null {
  try {
    const dir = join(cacheDir(env), "compile");
    // An empty HOME would make it relative to wherever safcm was started.
    if (!isAbsolute(dir)) return null;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (let d = dir; ; d = dirname(d)) {
      const st = lstatSync(d);
      if (!st.isDirectory() || (st.uid !== uid && st.uid !== 0)) return null;
      if ((st.mode & 0o022) !== 0 && (d === dir || (st.mode & 0o1000) === 0)) return null;
      if (dirname(d) === d) return dir;
    }
  } catch {
    return null;
  }
}

/**
 * The cache entry of a bundle: its name, `<sha256 of the bundle>-<Node.js
 * version>-<architecture>.v8`, and the header its file starts with (the raw
 * sha256, so that a file copied or renamed to that name is not used either).
 */
export function cacheEntry(bundle: Buffer): { name: string; header: Buffer } {
  const header = createHash("sha256").update(bundle).digest();
  return { name: `${header.toString("hex")}-${process.version}-${process.arch}.v8`, header };
}

/** Names runBundle writes (entries and their temporary files), and removes when stale. */
const OURS = /^[0-9a-f]{64}-v[0-9A-Za-z.+-]+-[0-9a-z]+\.v8(\.tmp-[0-9a-f]+)?$/;

/** The entry's V8 data: from a regular file, never through a symbolic link, with the
 * bundle's header; undefined if missing or for other content. */
function readEntry(dir: string, entry: { name: string; header: Buffer }): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(join(dir, entry.name), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const data = readFileSync(fd);
    const header = data.subarray(0, entry.header.length);
    return header.equals(entry.header) ? data.subarray(entry.header.length) : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** How long another entry is kept after it was last written. */
const STALE_MS = 24 * 60 * 60 * 1000;

/** Replaces the entry atomically (a new 0600 file renamed over it, never written
 * through a symbolic link) and removes stale entries. */
function writeEntry(dir: string, entry: { name: string; header: Buffer }, data: Buffer): void {
  const temp = join(dir, `${entry.name}.tmp-${randomBytes(6).toString("hex")}`);
  try {
    writeFileSync(temp, Buffer.concat([entry.header, data]), { flag: "wx", mode: 0o600 });
    renameSync(temp, join(dir, entry.name));
  } catch {
    rmSync(temp, { force: true });
    return;
  }
  // Entries of other bundles or Node.js versions not written for a day (and temporary
  // files a crash left behind) go; recent ones stay, so that two installations of
  // different versions, or two Node.js versions in turn, do not remove each other's.
  const old = Date.now() - STALE_MS;
  for (const other of readdirSync(dir)) {
    if (other === entry.name || !OURS.test(other)) continue;
    try {
      const path = join(dir, other);
      const st = lstatSync(path);
      if (st.mtimeMs < old) unlinkSync(path);
    } catch {
      // Removed by a concurrent run: nothing to do.
    }
  }
}

/** What the CLI bundle exports. */
interface Cli {
  main(argv: string[]): Promise<number>;
}

/**
 * Compiles and runs the CommonJS bundle at the absolute path `filename` (with the
 * code cache where it may be used), then its main(argv); returns main's exit status.
 */
export async function runBundle(filename: string, argv: string[]): Promise<number> {
  const bundle = readFileSync(filename);
  const dir =
    process.env.NODE_DISABLE_COMPILE_CACHE === undefined ? privateCompileCacheDir() : null;
  const entry = dir === null ? null : cacheEntry(bundle);
  const cached = dir === null || entry === null ? undefined : readEntry(dir, entry);
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {${bundle.toString("utf8")}\n})`,
    { filename, cachedData: cached },
  );
  const used = cached !== undefined && !script.cachedDataRejected;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  const module = { exports: {} as Cli };
  const require = createRequire(filename);
  wrapper.call(module.exports, module.exports, require, module, filename, dirname(filename));
  const status = await module.exports.main(argv);
  if (dir !== null && entry !== null) {
    try {
      // After the command, so that the functions it compiled on the way are in the
      // entry too (about 5 % less CPU for `safcm check` than data made before it ran).
      // An entry of less than a third of the bundle's size came from a command that ran
      // little of safcm (`safcm --version`): a run that compiled clearly more replaces it.
      if (!used) writeEntry(dir, entry, script.createCachedData());
      else if (cached.length < bundle.length / 3) {
        const data = script.createCachedData();
        if (data.length > cached.length * 1.25) writeEntry(dir, entry, data);
      }
    } catch {
      // Without the cache next time.
    }
  }
  return status;
}
