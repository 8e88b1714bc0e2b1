// V8's compiled code of the CLI bundle kept between runs (module.enableCompileCache,
// Node.js >= 22.1; older versions start without it). bin/safcm enables it before it
// loads dist/safcm.js. The cache holds code that safcm will run, often as root, so it
// is used only in safcm's cache directory (cache.ts) and only when every directory on
// the way there is a real directory (no symbolic link) of this user or root that
// nobody else can write to (a sticky one such as /tmp aside); otherwise safcm starts
// without it. NODE_DISABLE_COMPILE_CACHE=1 turns it off, as for any Node.js program.

import { lstatSync, mkdirSync } from "node:fs";
import module from "node:module";
import { dirname, isAbsolute, join } from "node:path";
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

/** Turns the compile cache on where the running Node.js has it and the directory is private. */
export function enableCompileCache(): void {
  const enable = (module as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
  if (typeof enable !== "function" || process.env.NODE_DISABLE_COMPILE_CACHE !== undefined) return;
  const dir = privateCompileCacheDir();
  if (dir !== null) enable(dir);
}
