// Descriptor-relative file operations (SPEC 6).
//
// The helper runs as root while other users may write to directories on the
// way to a managed path. No operation here takes a full path: the trusted root
// is opened once, every directory below it is opened one component at a time
// with O_NOFOLLOW, and each operation names a single entry inside a directory
// descriptor. Node.js has no *at() system calls, but on Linux
// /proc/self/fd/<fd>/<name> resolves <name> in exactly the directory <fd>
// refers to (the /proc link itself is followed, <name> is then looked up like
// the last component of any path), which gives the same guarantee.

import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import type { OldFileType } from "../protocol/messages.ts";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;
export const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

export const SYMLINK_IN_PATH = "symlink not permitted in path";
export const NON_EMPTY_DIR = "will not replace non-empty directory";

/** An error whose message is a reason fit for the user ("symlink not permitted in path"). */
export class SafeFsError extends Error {
  override name = "SafeFsError";
}

/** The path that names `name` inside the directory `dirFd` (or the directory itself). */
export function at(dirFd: number, name?: string): string {
  if (name === undefined) return `/proc/self/fd/${dirFd}`;
  checkName(name);
  return `/proc/self/fd/${dirFd}/${name}`;
}

/** A single path component: anything else could escape the directory. */
export function checkName(name: string): void {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new SafeFsError(`invalid path component ${JSON.stringify(name)}`);
  }
}

export function errnoCode(err: unknown): string | undefined {
  return err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
}

/** The reason of a failed operation without the /proc path Node.js puts in its messages. */
export function describeError(err: unknown): string {
  if (err instanceof SafeFsError) return err.message;
  if (err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== undefined && e.syscall !== undefined) {
      const text = e.message.split(", ")[0] ?? e.code;
      return `${e.syscall}: ${text}`;
    }
    return err.message;
  }
  return String(err);
}

/** statfs() f_type of procfs (linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;

/** fs.statfsSync exists from Node.js 18.15 on; the helper runs on 18.0 too. */
const statfsSync = (fs as { statfsSync?: (path: string) => { type: number } }).statfsSync;

function noProcFs(why: string): SafeFsError {
  return new SafeFsError(
    `/proc/self/fd is ${why} (the helper needs Linux with procfs mounted on /proc)`,
  );
}

/** Whether /proc/self/fd/<rootFd> is the directory open as rootFd. */
function leadsToRoot(rootFd: number): boolean {
  try {
    const st = statSync(at(rootFd));
    const real = fstatSync(rootFd);
    return st.dev === real.dev && st.ino === real.ino;
  } catch {
    return false;
  }
}

/**
 * Fails (with a clear reason) unless /proc/self/fd is procfs (SPEC 6): by
 * statfs() where Node.js has it, and in any case by what only procfs does:
 * /proc/self/fd/<fd> of the open root leads to that very directory.
 */
export function checkProcFs(rootFd: number): void {
  let type: number | undefined;
  try {
    type = statfsSync?.("/proc/self/fd").type;
  } catch {
    throw noProcFs("not available");
  }
  if (type !== undefined && type !== PROC_SUPER_MAGIC) {
    throw noProcFs(`not procfs (file system type 0x${type.toString(16)})`);
  }
  if (!leadsToRoot(rootFd)) {
    throw noProcFs("not procfs (its descriptors do not lead to the open files)");
  }
}

/** Opens the root (trusted: it is given by the administrator, so it may be reached through links). */
export function openRoot(root: string): number {
  if (!root.startsWith("/")) throw new SafeFsError(`root ${JSON.stringify(root)} is not absolute`);
  let fd: number;
  try {
    fd = openSync(root, O_RDONLY | O_DIRECTORY);
  } catch (err) {
    throw new SafeFsError(`cannot open root ${JSON.stringify(root)}: ${describeError(err)}`);
  }
  try {
    checkProcFs(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * Opens the directory `name` inside `dirFd` without following a symlink.
 * A symlink is "symlink not permitted in path"; a missing entry or another
 * type gives its own reason.
 */
export function openDirAt(dirFd: number, name: string): number {
  const path = at(dirFd, name);
  try {
    return openSync(path, DIR_FLAGS);
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOTDIR" || code === "ELOOP") {
      const st = lstatAt(dirFd, name);
      if (st?.isSymbolicLink()) throw new SafeFsError(SYMLINK_IN_PATH);
      if (st !== null && !st.isDirectory())
        throw new SafeFsError(`${JSON.stringify(name)} is not a directory`);
    }
    if (code === "ENOENT")
      throw new SafeFsError(`directory ${JSON.stringify(name)} does not exist`);
    throw err;
  }
}

/** lstat() of one entry; null when it does not exist. */
export function lstatAt(dirFd: number, name: string): Stats | null {
  try {
    return lstatSync(at(dirFd, name));
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return null;
    throw err;
  }
}

/** The type of an entry as the protocol names it. */
export function fileType(st: Stats): OldFileType {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  if (st.isCharacterDevice()) return "char";
  return "block";
}

/**
 * Opens an entry to compare it: O_NOFOLLOW (a symlink put there is not
 * followed) and O_NONBLOCK (a FIFO put there does not hang the sync). The
 * caller trusts only the fstat() of the returned descriptor and closes it.
 */
export function openForCompare(dirFd: number, name: string): { fd: number; stat: Stats } {
  const fd = openSync(at(dirFd, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    return { fd, stat: fstatSync(fd) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Reads exactly `size` bytes from the start of a regular file. */
export function readAll(fd: number, size: number): Buffer {
  const buffer = Buffer.alloc(size);
  let done = 0;
  while (done < size) {
    const n = readSync(fd, buffer, done, size - done, done);
    if (n === 0) return buffer.subarray(0, done); // shrank while reading
    done += n;
  }
  return buffer;
}

/**
 * Reads a regular file of `size` bytes from its start in chunks (for files too large to hold
 * twice), handing each to `chunk` until it returns false. False when the file ended early or
 * `chunk` said stop.
 */
function eachChunk(
  fd: number,
  size: number,
  chunk: (bytes: Buffer, at: number) => boolean,
): boolean {
  const buffer = Buffer.alloc(Math.min(Math.max(size, 1), 1024 * 1024));
  let position = 0;
  while (position < size) {
    const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - position), position);
    if (n === 0 || !chunk(buffer.subarray(0, n), position)) return false;
    position += n;
  }
  return true;
}

/** Compares a regular file of `size` bytes with `data`, in chunks. */
export function sameContent(fd: number, size: number, data: Buffer): boolean {
  if (size !== data.length) return false;
  return eachChunk(fd, size, (bytes, at) => bytes.equals(data.subarray(at, at + bytes.length)));
}

/** Whether a regular file of `size` bytes has this SHA-256 (hex), read in chunks. */
export function sameHash(fd: number, size: number, sha256: string): boolean {
  const hash = createHash("sha256");
  const complete = eachChunk(fd, size, (bytes) => {
    hash.update(bytes);
    return true;
  });
  return complete && hash.digest("hex") === sha256;
}

/** The target of a symlink as bytes (readlink() never follows it). */
export function readlinkAt(dirFd: number, name: string): Buffer {
  return readlinkSync(at(dirFd, name), { encoding: "buffer" });
}

/** Whether the directory behind `fd` has no entries. */
export function isEmptyDir(fd: number): boolean {
  return readdirSync(at(fd)).length === 0;
}

/** `.<name>.safcm-<random>`, short enough for NAME_MAX (255 bytes). */
export function tempName(name: string): string {
  let base = name;
  while (Buffer.byteLength(base) > 200) base = base.slice(0, -1);
  return `.${base}.safcm-${randomBytes(8).toString("hex")}`;
}

function removeQuietly(dirFd: number, name: string): void {
  try {
    unlinkSync(at(dirFd, name));
  } catch {
    // already gone, or nothing more can be done; the original error matters
  }
}

function writeAllSync(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}

/**
 * When a directory's entries have changed, it must be fsynced for the change
 * to be durable. By default each operation does it at once; a sync of many
 * files passes a DirSync that collects the directories and fsyncs each one
 * once, before the helper reports (fsync costs a disk flush each time).
 */
export class DirSync {
  private readonly pending = new Set<number>();

  /** Notes that `dirFd` needs an fsync; its descriptor must stay open until flush(). */
  add(dirFd: number): void {
    this.pending.add(dirFd);
  }

  /** Fsyncs `dirFd` now if it is pending (before its descriptor is closed). */
  release(dirFd: number): void {
    if (this.pending.delete(dirFd)) fsyncSync(dirFd);
  }

  /** Fsyncs every pending directory once; one that fails is not tried again. */
  flush(): void {
    for (const fd of this.pending) {
      this.pending.delete(fd);
      fsyncSync(fd);
    }
  }
}

function syncDir(dirFd: number, dirSync: DirSync | undefined): void {
  if (dirSync === undefined) fsyncSync(dirFd);
  else dirSync.add(dirFd);
}

/** A temporary file with its final content, owner and mode, not yet fsynced nor renamed. */
export interface PreparedFile {
  dirFd: number;
  name: string;
  tmp: string;
  fd: number;
}

/**
 * A new, empty temporary file next to `name`: O_CREAT | O_EXCL (never a symlink or an
 * entry someone else put there), mode 0600, so that nobody but the helper's user has
 * access, even through an ACL inherited from the directory (its group class, which
 * such an ACL's named entries go through, is empty). It stays open; fillTemp gives it
 * content, owner and mode.
 */
export function createTemp(dirFd: number, name: string): PreparedFile {
  const tmp = tempName(name);
  const fd = openSync(at(dirFd, tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  return { dirFd, name, tmp, fd };
}

/** Content, owner, then mode (chown clears set-id bits) of a temporary file; removed on any error. */
export function fillTemp(
  file: PreparedFile,
  data: Buffer,
  mode: number,
  uid: number,
  gid: number,
): void {
  try {
    writeAllSync(file.fd, data);
    fchownSync(file.fd, uid, gid);
    fchmodSync(file.fd, mode);
  } catch (err) {
    discardFile(file);
    throw err;
  }
}

/**
 * The first half of writeFileAt: temporary file, content, owner, then mode. It stays
 * open for the fsync; on any error it is removed again.
 */
export function prepareFile(
  dirFd: number,
  name: string,
  data: Buffer,
  mode: number,
  uid: number,
  gid: number,
): PreparedFile {
  const file = createTemp(dirFd, name);
  fillTemp(file, data, mode, uid, gid);
  return file;
}

/** The second half, once the file was fsynced: close, rename over the target, note the directory. */
export function commitFile(file: PreparedFile, dirSync?: DirSync): void {
  try {
    closeSync(file.fd);
  } catch (err) {
    removeQuietly(file.dirFd, file.tmp);
    throw err;
  }
  renameOver(file.dirFd, file.tmp, file.name, dirSync);
}

/** Closes and removes a prepared file that will not be renamed (an error, a stop). */
export function discardFile(file: PreparedFile): void {
  closeQuietly(file.fd);
  removeQuietly(file.dirFd, file.tmp);
}

/**
 * Replaces (or creates) the regular file `name`: temporary file (O_EXCL, 0600,
 * never a symlink), content, owner, then mode (chown clears set-id bits),
 * fsync, rename over the target, fsync of the directory. The temporary file
 * is removed on every error path.
 */
export function writeFileAt(
  dirFd: number,
  name: string,
  data: Buffer,
  mode: number,
  uid: number,
  gid: number,
  dirSync?: DirSync,
): void {
  const file = prepareFile(dirFd, name, data, mode, uid, gid);
  try {
    fsyncSync(file.fd);
  } catch (err) {
    discardFile(file);
    throw err;
  }
  commitFile(file, dirSync);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // the error that brought us here matters more
  }
}

/**
 * Replaces (or creates) the symlink `name`: a temporary link, lchown, rename.
 * Node has no fchownat(), so lchown() goes by name; in a directory other
 * users can write, one of them could swap the temporary link for a hard link
 * to another file and have that file chowned. So the link is made inside a
 * fresh private directory (0700, ours, checked through its descriptor) and
 * renamed from there into place.
 */
export function symlinkAt(
  dirFd: number,
  name: string,
  target: string,
  uid: number,
  gid: number,
  dirSync?: DirSync,
): void {
  const privateName = tempName(name);
  const privateFd = mkdirAt(
    dirFd,
    privateName,
    0o700,
    process.geteuid?.() ?? 0,
    process.getegid?.() ?? 0,
    dirSync,
  );
  try {
    symlinkSync(target, at(privateFd, "link"));
    lchownSync(at(privateFd, "link"), uid, gid);
    renameSync(at(privateFd, "link"), at(dirFd, name));
  } catch (err) {
    removeQuietly(privateFd, "link");
    throw err;
  } finally {
    closeQuietly(privateFd);
    try {
      rmdirSync(at(dirFd, privateName));
    } catch {
      // left for the next sync's cleanup of stale temporary entries
    }
  }
  syncDir(dirFd, dirSync);
}

function renameOver(dirFd: number, tmp: string, name: string, dirSync: DirSync | undefined): void {
  try {
    renameSync(at(dirFd, tmp), at(dirFd, name));
  } catch (err) {
    removeQuietly(dirFd, tmp);
    throw err;
  }
  syncDir(dirFd, dirSync);
}

/**
 * Whether the open directory `fd` looks like one this process just made with
 * mkdir(0700) in the directory whose fstat is `parent`: owned by this user, no
 * group or other access, empty (read, not guessed from the link count, which
 * is 1 for every directory on btrfs and some other file systems). Inside a
 * set-group-ID directory the kernel gives it that bit and the parent's group
 * (SPEC 6); that is expected (without group bits it grants nothing).
 */
function isOwnFreshDir(fd: number, parent: Stats): boolean {
  const st = fstatSync(fd);
  const euid = process.geteuid?.() ?? st.uid;
  if (!st.isDirectory() || st.uid !== euid || (st.mode & 0o5077) !== 0) return false;
  const sgid = (st.mode & 0o2000) === 0 || ((parent.mode & 0o2000) !== 0 && st.gid === parent.gid);
  return sgid && isEmptyDir(fd);
}

/**
 * Creates the directory `name`, owned by the helper with mode 0700 (plus a
 * set-group-ID bit inherited from the parent), and returns a descriptor of
 * it; its final owner and mode are set by the caller once its subtree is in
 * place. A directory that is not the one just made is refused.
 */
export function mkdirPrivate(dirFd: number, name: string, dirSync?: DirSync): number {
  mkdirSync(at(dirFd, name), 0o700);
  let fd = -1;
  try {
    fd = openSync(at(dirFd, name), DIR_FLAGS);
    // Between mkdir and open another user of a writable parent could have put
    // their own directory at the name: only ours (just made, no group or other
    // access, empty) will do, and theirs is left alone.
    if (!isOwnFreshDir(fd, fstatSync(dirFd))) {
      closeSync(fd);
      fd = -1;
      throw new SafeFsError("the new directory was replaced while it was being created");
    }
    syncDir(dirFd, dirSync);
    return fd;
  } catch (err) {
    if (fd >= 0) {
      closeSync(fd);
      try {
        rmdirSync(at(dirFd, name));
      } catch {
        // someone else put something there; leave it
      }
    }
    throw err;
  }
}

/** mkdirPrivate(), then owner and mode at once (for a directory without a subtree to fill). */
export function mkdirAt(
  dirFd: number,
  name: string,
  mode: number,
  uid: number,
  gid: number,
  dirSync?: DirSync,
): number {
  const fd = mkdirPrivate(dirFd, name, dirSync);
  try {
    fchownSync(fd, uid, gid);
    fchmodSync(fd, mode);
    return fd;
  } catch (err) {
    closeSync(fd);
    try {
      rmdirSync(at(dirFd, name));
    } catch {
      // not empty or gone; the original error matters
    }
    throw err;
  }
}

/**
 * The file a new directory holds until its final mode and owner are set: a directory
 * found 0700, owned by the helper and holding it was left by an interrupted sync, and
 * gets the mode and owner it was created for, even where an existing directory would
 * keep its own (SPEC 3.5). Only the helper can create it there (the directory is
 * private), so nobody can make safcm take a directory over with it.
 */
export const NEW_DIR_MARKER = ".safcm-unfinished";

/** Puts the marker into the new, private directory `fd`. */
export function markUnfinished(fd: number): void {
  closeSync(openSync(at(fd, NEW_DIR_MARKER), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600));
}

/** Removes the marker from the directory `fd`, if it holds one. */
export function unmarkFinished(fd: number): void {
  try {
    unlinkSync(at(fd, NEW_DIR_MARKER));
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
  }
}

/** Whether the directory `fd` (0700, the helper's) is one an interrupted sync left unfinished. */
export function isUnfinished(fd: number): boolean {
  const st = fstatSync(fd);
  if (st.uid !== (process.geteuid?.() ?? st.uid) || (st.mode & 0o777) !== 0o700) return false;
  try {
    return lstatSync(at(fd, NEW_DIR_MARKER)).isFile();
  } catch {
    return false;
  }
}

/** Removes the directory `name` only if it is empty (rmdir() checks that atomically). */
export function rmdirAt(dirFd: number, name: string): void {
  try {
    rmdirSync(at(dirFd, name));
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOTEMPTY" || code === "EEXIST") throw new SafeFsError(NON_EMPTY_DIR);
    throw err;
  }
}

/** Removes a single non-directory (unlink() refuses directories; a symlink itself is removed). */
export function unlinkAt(dirFd: number, name: string, dirSync?: DirSync): void {
  unlinkSync(at(dirFd, name));
  syncDir(dirFd, dirSync);
}

/**
 * Changes mode and owner of the open directory `fd` (`old` is its fstat) in
 * an order that never leaves it more open than both before and after: when
 * the owner changes too, first drop every permission the new mode does not
 * have, then chown, then set the final mode (chown may clear set-id bits).
 */
export function changeDir(fd: number, old: Stats, mode: number, uid: number, gid: number): void {
  const oldMode = old.mode & 0o7777;
  if (old.uid !== uid || old.gid !== gid) {
    const common = oldMode & mode;
    if (common !== oldMode) fchmodSync(fd, common);
    fchownSync(fd, uid, gid);
    fchmodSync(fd, mode);
  } else if (oldMode !== mode) {
    fchmodSync(fd, mode);
  }
}
