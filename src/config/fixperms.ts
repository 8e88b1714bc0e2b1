// `safcm fixperms` (SPEC 4): a checkout made with a lax umask leaves files/
// writable by group or others, which loadConfig refuses. This sets every
// directory to 0755, owner-executable files to 0755 and other files to 0644.
// Symbolic links are never followed; other file types are left alone (loadConfig
// reports them). It does not need a loadable configuration.

import { chmodSync, lstatSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "../errors.ts";

/**
 * Fixes the files/ trees of every top-level directory of `dir`; returns the
 * changed paths, relative to `dir`. A path it cannot read or change is a
 * ConfigError naming it (paths changed before it stay changed).
 */
export function fixperms(dir: string): string[] {
  try {
    return fixTrees(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code !== "string") throw err;
    const where = typeof e.path === "string" ? path.relative(dir, e.path) || "." : dir;
    throw new ConfigError([
      { pos: { file: where }, message: `cannot fix permissions: ${e.code} (${e.syscall ?? "fs"})` },
    ]);
  }
}

function fixTrees(dir: string): string[] {
  const changed: string[] = [];
  const fix = (rel: string): void => {
    const abs = path.join(dir, rel);
    const st = lstatSync(abs);
    let want: number;
    if (st.isDirectory()) want = 0o755;
    else if (st.isFile()) want = (st.mode & 0o100) !== 0 ? 0o755 : 0o644;
    else return;
    if ((st.mode & 0o7777) !== want) {
      chmodSync(abs, want);
      changed.push(rel);
    }
    if (st.isDirectory()) {
      for (const child of readdirSync(abs).sort()) fix(path.join(rel, child));
    }
  };
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    if (statSync(path.join(dir, name), { throwIfNoEntry: false })?.isDirectory() !== true) continue;
    const files = path.join(name, "files");
    if (lstatSync(path.join(dir, files), { throwIfNoEntry: false })?.isDirectory() === true) {
      fix(files);
    }
  }
  return changed;
}
