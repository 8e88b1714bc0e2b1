// POSIX ACLs on managed entries (SPEC 6: a managed entry ends with exactly
// its declared access). Node.js has no extended-attribute API, so the helper
// uses what the Debian family always has to find them, GNU coreutils' `ls`
// (Essential: `ls -l` ends the mode string with "+" when an entry has an
// extended ACL, access or default), and `setfacl` (package "acl") to remove
// them. Where `ls` is not GNU's (busybox), `getfacl` (also package "acl")
// finds them instead. None gets a full path a user could redirect: the child process
// inherits the descriptor of the directory (or of the entry itself, opened
// with O_NOFOLLOW) and is given /proc/self/fd/<n>/<name>.
//
// Finding ACLs costs one `ls` per batch of up to MAX_BATCH_DIRS directories,
// not one process per entry.

import { accessSync, closeSync, constants, fchmodSync, openSync, fstatSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { delimiter, join } from "node:path";
/** What a check marks: an observation, or a temporary file. */
export interface AclMark {
  acl: boolean;
}
import { SafeFsError, at } from "./safe-fs.ts";

/** Directory descriptors one `ls` may inherit (the walk's own stay far below any limit). */
export const MAX_BATCH_DIRS = 64;
/** Names one `ls` is given (keeps its argument list far below ARG_MAX). */
const MAX_BATCH_NAMES = 2_000;

/** Names that `ls --quoting-style=escape` prints as they are (anything else is asked alone). */
const PLAIN_NAME = /^[A-Za-z0-9._+,@%=:~-]+$/;

interface Item {
  fd: number;
  name: string;
  obs: AclMark;
}

/** The environment of ls and setfacl: the helper's PATH, messages and quoting in the C locale. */
function env(): NodeJS.ProcessEnv {
  return { LC_ALL: "C", PATH: process.env.PATH ?? "/usr/bin:/bin" };
}

/** Which of `paths` have an extended ACL, where the child's descriptor 3+i is `fds[i]`; null
 * when this way of looking does not work on this host. */
type Lister = (fds: number[], paths: string[]) => Set<string> | null;

/** GNU ls: the mode string of an entry with an extended ACL ends with "+". */
const lsLister: Lister = (fds, paths) => {
  const modes = list(fds, paths);
  if (modes === null) return null;
  return new Set([...modes].filter(([, mode]) => mode.endsWith("+")).map(([path]) => path));
};

/**
 * getfacl (package "acl"), where `ls` is not GNU's (busybox): `--skip-base` prints only
 * the entries with extended (or default) entries, `--physical` skips a symbolic link
 * instead of following it, `--absolute-names` keeps the path as given.
 */
const getfaclLister: Lister = (fds, paths) => {
  const run = spawnSync("getfacl", ["-s", "-p", "-P", "--", ...paths], {
    stdio: ["ignore", "pipe", "pipe", ...fds],
    env: env(),
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error !== undefined) return null;
  const found = new Set<string>();
  for (const line of run.stdout.toString("latin1").split("\n")) {
    if (line.startsWith("# file: ")) found.add(line.slice("# file: ".length));
  }
  // Nothing at all and an error other than a vanished entry: getfacl does not work here.
  const stderr = run.stderr.toString();
  if (found.size === 0 && run.status !== 0 && stderr !== "" && !/No such file/.test(stderr)) {
    return null;
  }
  return found;
};

/** One `ls -ldn` of `paths`, where the child's descriptor 3+i is `fds[i]`: mode strings by path. */
function list(fds: number[], paths: string[]): Map<string, string> | null {
  const run = spawnSync("ls", ["-ldnU", "--quoting-style=escape", "--", ...paths], {
    stdio: ["ignore", "pipe", "pipe", ...fds],
    env: env(),
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error !== undefined) return null;
  const out = new Map<string, string>();
  for (const line of run.stdout.toString("latin1").split("\n")) {
    const fields = line.split(" ");
    const mode = fields[0] ?? "";
    if (!/^[-dlpscb][-rwxsStT]{9}/.test(mode)) continue;
    out.set(fields[fields.length - 1] ?? "", mode);
  }
  // No line at all while some were asked: not GNU ls (busybox's has no --quoting-style).
  if (
    out.size === 0 &&
    run.status !== 0 &&
    paths.length > 0 &&
    !/No such file/.test(run.stderr.toString())
  ) {
    return null;
  }
  return out;
}

/** Collects entries to check, runs `ls` per batch, and marks the observations that have an ACL. */
export class AclProbe {
  private items: Item[] = [];
  /** Directory descriptors handed over by the walk, closed after the next flush. */
  private owned: number[] = [];
  /** False once neither `ls` nor `getfacl` turned out to report ACLs on this host. */
  available = true;
  /** GNU ls first; getfacl where ls is not GNU's. */
  private listers: Lister[] = [lsLister, getfaclLister];

  add(fd: number, name: string, obs: AclMark): void {
    if (!this.available) return;
    this.items.push({ fd, name, obs });
    // A directory with very many entries: its own descriptor is still open.
    if (this.items.length >= MAX_BATCH_NAMES) this.flush();
  }

  /** The walk is done with `fd`: kept open while an entry in it waits for the check, else closed. */
  done(fd: number): void {
    if (!this.items.some((i) => i.fd === fd)) return closeSync(fd);
    this.owned.push(fd);
    if (this.owned.length >= MAX_BATCH_DIRS || this.items.length >= MAX_BATCH_NAMES) this.flush();
  }

  flush(): void {
    const items = this.items;
    this.items = [];
    try {
      if (items.length > 0 && this.available) this.check(items);
    } finally {
      this.closeOwned();
    }
  }

  private check(items: Item[]): void {
    const fds: number[] = [];
    const slot = new Map<number, number>();
    const child = (item: Item): string => {
      let n = slot.get(item.fd);
      if (n === undefined) {
        n = fds.length;
        fds.push(item.fd);
        slot.set(item.fd, n);
      }
      return `/proc/self/fd/${3 + n}/${item.name}`;
    };
    const plain = items.filter((i) => PLAIN_NAME.test(i.name));
    const paths = plain.map(child);
    let withAcl = this.listers[0](fds, paths);
    while (withAcl === null) {
      this.listers.shift();
      if (this.listers.length === 0) {
        this.available = false;
        return;
      }
      withAcl = this.listers[0](fds, paths);
    }
    const lister = this.listers[0];
    plain.forEach((item, i) => {
      if (withAcl.has(paths[i])) item.obs.acl = true;
    });
    for (const item of items.filter((i) => !PLAIN_NAME.test(i.name))) {
      // An unusual name (spaces, control characters, bytes that are not
      // UTF-8) is asked about alone, so its escaped form need not be parsed.
      const one = lister([item.fd], [`/proc/self/fd/3/${item.name}`]);
      if (one !== null && one.size > 0) item.obs.acl = true;
    }
  }

  private closeOwned(): void {
    const owned = this.owned;
    this.owned = [];
    for (const fd of owned) closeSync(fd);
  }

  /** Closes what is still held (after an error); pending checks are dropped. */
  close(): void {
    this.items = [];
    this.closeOwned();
  }
}

/** Whether `setfacl` can be run (found on PATH). */
export function canRemoveAcl(): boolean {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, "setfacl"), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Removes every extended ACL entry (and a directory's default ACL) from the
 * entry open as `fd`, then sets `mode` (removing the ACL reveals the owning
 * group's entry as the group bits, which may differ from what was shown).
 */
export function removeAcl(fd: number, type: "dir" | "file", mode: number): void {
  const args = type === "dir" ? ["-b", "-k"] : ["-b"];
  const run = spawnSync("setfacl", [...args, "/proc/self/fd/3"], {
    stdio: ["ignore", "pipe", "pipe", fd],
    env: env(),
  });
  if (run.error !== undefined) throw new SafeFsError(`${aclRemovalFailed()}: ${run.error.message}`);
  if (run.status !== 0) {
    throw new SafeFsError(
      `${aclRemovalFailed()}: ${run.stderr.toString("utf8").trim().slice(0, 500)}`,
    );
  }
  fchmodSync(fd, mode);
}

/** When setfacl itself fails on an entry that has an ACL. */
function aclRemovalFailed(): string {
  return "cannot remove its ACL (setfacl failed)";
}

/** Opens a regular file in `dirFd` without following a symlink, for removeAcl. */
export function openFileNoFollow(dirFd: number, name: string): number {
  const fd = openSync(
    at(dirFd, name),
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  );
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new SafeFsError("was replaced during the sync");
  }
  return fd;
}
