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

interface Item {
  fd: number;
  name: string;
  obs: AclMark;
}

/** The environment of ls and setfacl: the helper's PATH, messages and quoting in the C locale. */
function env(): NodeJS.ProcessEnv {
  return { LC_ALL: "C", PATH: process.env.PATH ?? "/usr/bin:/bin" };
}

/** What a lister found: per path (same order) whether it has an extended ACL; "unusable"
 * when this way of looking does not work on this host; "unmatched" when the answer cannot
 * be matched to the paths by position (an entry vanished meanwhile). */
type Listing = boolean[] | "unusable" | "unmatched";
type Lister = (fds: number[], paths: string[]) => Listing;

/** The child's stdio: nothing in, output captured, `fds` as descriptors 3, 4, ... */
function run(command: string, args: string[], fds: number[]) {
  return spawnSync(command, args, {
    stdio: ["ignore", "pipe", "pipe", ...fds],
    env: env(),
    maxBuffer: 64 * 1024 * 1024,
  });
}

const MODE_STRING = /^[-dlpscb][-rwxsStT]{9}/;

/**
 * GNU ls: the mode string of an entry with an extended ACL ends with "+". With -U the
 * lines come in the order of the arguments, so they are matched to the paths by
 * position, never by the name at the end of a line: for a symbolic link the name is
 * followed by its target, text that a user of the host chooses (issue 18, scenario E).
 * Escaped quoting keeps every entry on one line. `follow` (-L) reads through the
 * magic links /proc/self/fd/<n> to the open files themselves.
 */
function lsLister(follow: boolean): Lister {
  return (fds, paths) => {
    const flags = follow ? "-ldnUL" : "-ldnU";
    const r = run("ls", [flags, "--quoting-style=escape", "--", ...paths], fds);
    if (r.error !== undefined) return "unusable";
    const modes = r.stdout
      .toString("latin1")
      .split("\n")
      .map((line) => line.split(" ")[0] ?? "")
      .filter((mode) => MODE_STRING.test(mode));
    if (modes.length === paths.length) return modes.map((mode) => mode.endsWith("+"));
    // No line at all and not because of a vanished entry: not GNU ls (busybox has no
    // --quoting-style).
    if (modes.length === 0 && r.status !== 0 && !/No such file/.test(r.stderr.toString())) {
      return "unusable";
    }
    return "unmatched";
  };
}

/**
 * getfacl (package "acl"), where `ls` is not GNU's (busybox): one block per path, in the
 * order given, separated by a blank line; a block with an entry other than the base
 * user::, group:: and other:: is an extended ACL. Matched by position, as for ls.
 * Without `follow`, --physical: a symbolic link is not followed.
 */
function getfaclLister(follow: boolean): Lister {
  return (fds, paths) => {
    const flags = follow ? ["-p", "-E"] : ["-p", "-P", "-E"];
    const r = run("getfacl", [...flags, "--", ...paths], fds);
    if (r.error !== undefined) return "unusable";
    const blocks = r.stdout
      .toString("latin1")
      .split("\n\n")
      .filter((block) => block.trim() !== "");
    if (blocks.length === paths.length) {
      return blocks.map((block) =>
        block
          .split("\n")
          .some((l) => l !== "" && !l.startsWith("#") && !/^(user|group|other)::/.test(l)),
      );
    }
    const stderr = r.stderr.toString();
    if (blocks.length === 0 && r.status !== 0 && stderr !== "" && !/No such file/.test(stderr)) {
      return "unusable";
    }
    return "unmatched";
  };
}

/**
 * Asks `listers` in turn (dropping those unusable here) about `paths`; where the answer
 * cannot be matched by position, each path is asked about alone (a vanished entry then
 * counts as without ACL: nothing is there to carry one). Null when no lister works.
 */
function listAcls(listers: Lister[], fds: number[], paths: string[], slots: number[]) {
  let found = listers[0]?.(fds, paths) ?? "unusable";
  while (found === "unusable") {
    listers.shift();
    if (listers.length === 0) return null;
    found = listers[0](fds, paths);
  }
  if (found !== "unmatched") return found;
  const lister = listers[0];
  return paths.map((path, i) => {
    const one = lister(
      [fds[slots[i]]],
      [path.replace(/^\/proc\/self\/fd\/\d+/, "/proc/self/fd/3")],
    );
    return Array.isArray(one) && one[0] === true;
  });
}

/** Collects entries to check, runs `ls` per batch, and marks the observations that have an ACL. */
export class AclProbe {
  private items: Item[] = [];
  /** Directory descriptors handed over by the walk, closed after the next flush. */
  private owned: number[] = [];
  /** False once neither `ls` nor `getfacl` turned out to report ACLs on this host. */
  available = true;
  /** GNU ls first; getfacl where ls is not GNU's. */
  private listers: Lister[] = [lsLister(false), getfaclLister(false)];

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
    const slots = items.map((item) => {
      let n = slot.get(item.fd);
      if (n === undefined) {
        n = fds.length;
        fds.push(item.fd);
        slot.set(item.fd, n);
      }
      return n;
    });
    const paths = items.map((item, i) => `/proc/self/fd/${3 + slots[i]}/${item.name}`);
    const found = listAcls(this.listers, fds, paths, slots);
    if (found === null) {
      this.available = false;
      return;
    }
    items.forEach((item, i) => {
      if (found[i]) item.obs.acl = true;
    });
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

/** The base ACL entries that say exactly what `mode` says (for setfacl --set). */
function baseAcl(mode: number): string {
  const bits = (shift: number): string => {
    const b = (mode >> shift) & 7;
    return `${b & 4 ? "r" : "-"}${b & 2 ? "w" : "-"}${b & 1 ? "x" : "-"}`;
  };
  return `u::${bits(6)},g::${bits(3)},o::${bits(0)}`;
}

/**
 * Replaces the whole ACL of the open entries `fds` (all directories or all not) by the
 * base entries of `mode`, and removes a directory's default ACL, in one `setfacl`; then
 * sets `mode` on each (special bits included). `--set` replaces the access ACL in one
 * step, so nobody gains access in between: removing the entries one by one (`-b`) would
 * first reveal the owning group's entry as the group bits.
 */
export function setExactAcl(fds: number[], type: "dir" | "file", mode: number): void {
  if (fds.length === 0) return;
  const args = [...(type === "dir" ? ["-k"] : []), "--set", baseAcl(mode)];
  const paths = fds.map((_, i) => `/proc/self/fd/${3 + i}`);
  const r = run("setfacl", [...args, "--", ...paths], fds);
  if (r.error !== undefined) throw new SafeFsError(`${aclRemovalFailed()}: ${r.error.message}`);
  if (r.status !== 0 || r.stderr.length > 0) {
    throw new SafeFsError(
      `${aclRemovalFailed()}: ${r.stderr.toString("utf8").trim().slice(0, 500)}`,
    );
  }
  for (const fd of fds) fchmodSync(fd, mode);
}

/** Removes every extended ACL entry (and a directory's default ACL) from the entry open as `fd`, leaving `mode`. */
export function removeAcl(fd: number, type: "dir" | "file", mode: number): void {
  setExactAcl([fd], type, mode);
}

/**
 * Which of the open entries `fds` (directories when `dir`, else regular files) have an
 * extended ACL, asked through their descriptors (never a name); null when neither ls
 * nor getfacl works on this host.
 */
export function aclOfOpen(fds: number[], dir: boolean): boolean[] | null {
  const paths = fds.map((_, i) => `/proc/self/fd/${3 + i}${dir ? "/." : ""}`);
  return listAcls(
    [lsLister(true), getfaclLister(true)],
    fds,
    paths,
    fds.map((_, i) => i),
  );
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
