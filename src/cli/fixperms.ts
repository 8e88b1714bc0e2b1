// `safcm fixperms` (SPEC 4): a checkout made with a lax umask leaves files/
// writable by group or others, which loadConfig refuses. This removes the
// group and other write bits of directories and regular files and nothing
// else: a private 0600 file stays 0600. Other file types are left alone
// (loadConfig reports them). It does not need a loadable configuration.
//
// The trees it fixes are writable by others when it is needed, so they may be
// changed under it: it never follows a symbolic link, not even one swapped in
// after it looked. Each entry is opened with O_NOFOLLOW, checked to be the
// entry it looked at, and changed through its descriptor (fchmod); a
// directory's children are reached through the directory's descriptor
// (/proc/self/fd/<fd>/<name>), never through a path that could lead elsewhere.

import { closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync } from "node:fs";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "../errors.ts";
import { formatMode } from "../mode.ts";

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
  const changed: ModeChange[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw fixError(dir, err);
  }
  for (const name of names) {
    if (name.startsWith(".")) continue;
    if (statSync(path.join(dir, name), { throwIfNoEntry: false })?.isDirectory() !== true) continue;
    const files = path.join(name, "files");
    if (lstatSync(path.join(dir, files), { throwIfNoEntry: false })?.isDirectory() === true) {
      fix(path.join(dir, files), files, changed);
    }
  }
  return changed;
}

/** Fixes the entry at `at` (a path that follows no symlink of the tree), shown as `rel`. */
function fix(at: string, rel: string, changed: ModeChange[]): void {
  let fd: number;
  try {
    const seen = lstatSync(at);
    if (!seen.isDirectory() && !seen.isFile()) return;
    fd = openSync(at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (st.ino !== seen.ino || st.dev !== seen.dev) {
      closeSync(fd);
      throw new ConfigError([
        { code: "fixperms-failed", pos: { file: rel }, message: "changed while fixperms ran" },
      ]);
    }
    const from = st.mode & 0o7777;
    const to = from & ~0o022;
    if (to !== from) {
      fchmodSync(fd, to);
      changed.push({ path: rel, from, to });
    }
    if (!st.isDirectory()) {
      closeSync(fd);
      return;
    }
  } catch (err) {
    throw fixError(rel, err);
  }
  try {
    const base = `/proc/self/fd/${fd}`;
    let children: string[];
    try {
      children = readdirSync(base).sort();
    } catch (err) {
      throw fixError(rel, err);
    }
    for (const child of children) fix(`${base}/${child}`, path.join(rel, child), changed);
  } finally {
    closeSync(fd);
  }
}

/** An error of the file system as a ConfigError naming `where`. */
function fixError(where: string, err: unknown): unknown {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof ConfigError || typeof e.code !== "string") return err;
  return new ConfigError([
    {
      code: "fixperms-failed",
      pos: { file: where },
      message: `cannot fix permissions: ${e.code} (${e.syscall ?? "fs"})`,
    },
  ]);
}

/** "<path>: 0664 -> 0644", as `safcm fixperms` prints each change. */
export function formatChange(c: ModeChange): string {
  return `${c.path}: ${formatMode(c.from)} -> ${formatMode(c.to)}`;
}
