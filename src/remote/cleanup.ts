// Crash leftovers (SPEC 6, SECURITY.md): the temporary files and symlinkAt's
// private directories that a SIGKILLed or powered-off earlier run left behind,
// removed by the next real sync while it observes a directory. Kept apart from
// the write primitives in safe-fs.ts, whose symlink-race reasoning this does not
// touch: it only removes entries named like tempName() and never follows one.

import {
  closeSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  rmdirSync,
  unlinkSync,
  type Stats,
} from "node:fs";
import { DIR_FLAGS, at, errnoCode } from "./safe-fs.ts";

/** What tempName() returns (any name: it may have been cut to 200 bytes). */
const TEMP_NAME = /^\..+\.safcm-[0-9a-f]{16}$/s;

/** Whether `name` looks like one of safcm's temporary files. */
export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** symlinkAt's private directory left by a crash: emptied and removed only when it is one of
 * ours (owned by this user, no group or other access, holding nothing but "link"). */
function removeStalePrivateDir(path: Buffer): boolean {
  let fd: number;
  try {
    fd = openSync(path, DIR_FLAGS);
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    const euid = process.geteuid?.() ?? st.uid;
    // No group or other access; a set-group-ID bit inherited from the parent is fine.
    if (st.uid !== euid || (st.mode & 0o5077) !== 0) return false;
    const entries = readdirSync(at(fd));
    if (entries.some((entry) => entry !== "link")) return false;
    for (const entry of entries) unlinkSync(at(fd, entry));
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
  try {
    rmdirSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes what a crashed (SIGKILLed, powered off) earlier run left in the
 * directory `dirFd`: entries named like tempName() that are regular files or
 * symlinks, and symlinkAt's private directories (removeStalePrivateDir). One
 * readdir() of the directory; each candidate is checked with lstat() (a
 * symlink is removed itself, never followed). Files and symlinks are removed
 * with unlink(), which refuses directories, so a directory that replaces one
 * after the lstat() is not touched. Returns the names removed.
 */
export function removeStaleTemps(dirFd: number): string[] {
  const removed: string[] = [];
  // Names as bytes: a name that is not valid UTF-8 must not be turned into another name.
  for (const name of readdirSync(at(dirFd), { encoding: "buffer" })) {
    if (!isTempName(name.toString("latin1"))) continue;
    const path = Buffer.concat([Buffer.from(`${at(dirFd)}/`), name]);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") continue;
      throw err;
    }
    if (st.isDirectory()) {
      if (removeStalePrivateDir(path)) removed.push(name.toString("utf8"));
      continue;
    }
    if (!st.isFile() && !st.isSymbolicLink()) continue;
    try {
      unlinkSync(path);
    } catch (err) {
      // Gone, or swapped for a directory (EISDIR), or not ours to remove in a
      // sticky directory (EPERM): leave it.
      const code = errnoCode(err);
      if (code === "ENOENT" || code === "EISDIR" || code === "EPERM") continue;
      throw err;
    }
    removed.push(name.toString("utf8"));
  }
  if (removed.length > 0) fsyncSync(dirFd);
  return removed;
}
