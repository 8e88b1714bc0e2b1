// `safcm fixperms` (SPEC 4): a checkout made with a lax umask leaves files/
// writable by group or others, which loadConfig refuses. This removes the
// group and other write bits of directories and regular files and nothing
// else: a private 0600 file stays 0600. Symbolic links are never followed;
// other file types are left alone (loadConfig reports them). It does not need
// a loadable configuration.

import { chmodSync, lstatSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "../errors.ts";
import { formatMode } from "./permissions.ts";

/** One change: the path relative to the configuration directory, the mode before and after. */
export interface ModeChange {
  path: string;
  from: number;
  to: number;
}

/**
 * Fixes the files/ trees of every top-level directory of `dir`; returns the
 * changes, in the order made. A path it cannot read or change is a
 * ConfigError naming it (paths changed before it stay changed).
 */
export function fixperms(dir: string): ModeChange[] {
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

function fixTrees(dir: string): ModeChange[] {
  const changed: ModeChange[] = [];
  const fix = (rel: string): void => {
    const abs = path.join(dir, rel);
    const st = lstatSync(abs);
    if (!st.isDirectory() && !st.isFile()) return;
    const from = st.mode & 0o7777;
    const to = from & ~0o022;
    if (to !== from) {
      chmodSync(abs, to);
      changed.push({ path: rel, from, to });
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

/** "<path>: 0664 -> 0644", as `safcm fixperms` prints each change. */
export function formatChange(c: ModeChange): string {
  return `${c.path}: ${formatMode(c.from)} -> ${formatMode(c.to)}`;
}
