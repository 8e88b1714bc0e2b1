// File system questions of the configuration loader that must never throw:
// a symlink loop, a name too long or a path through a regular file makes
// statSync throw even with throwIfNoEntry: false, and loadConfig promises a
// Config or a ConfigError, nothing else.

import { statSync, type Stats } from "node:fs";

/** stat() of `p`, or null when it is missing or cannot be looked at (ELOOP, ENAMETOOLONG, ENOTDIR, EACCES). */
export function statQuietly(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/** Whether something is at `p` that stat() cannot follow (a symlink loop, no permission): it
 * exists, so reading it reports the reason. */
export function existsButUnreadable(p: string): boolean {
  try {
    statSync(p);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ENOENT";
  }
}
