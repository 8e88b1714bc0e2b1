// The file engine (SPEC 5.1): brings each FileEntry of a sync request into
// place, or in dry-run only compares. One function per entry does both, with
// an `apply` flag, so dry-run cannot drift from a real run.

import { createHash } from "node:crypto";
import { closeSync, fstatSync, type Stats } from "node:fs";
import {
  MAX_DIFF_CONTENT,
  type FileChange,
  type FileEntry,
  type FileInfo,
} from "../protocol/messages.ts";
import { quote, silent, type Log } from "./log.ts";
import {
  DirSync,
  NON_EMPTY_DIR,
  SafeFsError,
  changeDir,
  describeError,
  fileType,
  isEmptyDir,
  lstatAt,
  mkdirAt,
  openDirAt,
  openForCompare,
  openRoot,
  readAll,
  readlinkAt,
  removeStaleTemps,
  rmdirAt,
  sameContent,
  sameHash,
  symlinkAt,
  unlinkAt,
  writeFileAt,
} from "./safe-fs.ts";
import { loadUserDb, resolveOwner, type UserDb } from "./users.ts";

export interface FilesInput {
  /** Absolute directory that stands for "/" (trusted). */
  root: string;
  /** Sorted by path, parents before children. */
  files: FileEntry[];
  /** The request's attachment, which FileEntry.data_offset/data_length point into. */
  data: Buffer;
  /** False for dry-run: compare only. */
  apply: boolean;
  log?: Log;
  /** The host's user database (default: read /etc/passwd and /etc/group). */
  users?: UserDb;
}

export interface FilesResult {
  /** What changed (or would change), in request order; on error the attempted change is last. */
  changes: FileChange[];
  /** The response attachment: old contents that FileChange.old_data_offset/length point into. */
  oldData: Buffer[];
  /** The error that stopped the run, naming the path, or null. */
  error: string | null;
}

class Run {
  readonly changes: FileChange[] = [];
  readonly oldData: Buffer[] = [];
  private oldDataLength = 0;
  /** Open descriptors of directories already walked, by host path. */
  private readonly dirs = new Map<string, number>();
  /** Dry-run: directories that do not exist (yet) or would be replaced; their children are "created". */
  private readonly virtual = new Set<string>();
  /** Directories already freed of stale temporary files (or created by this run). */
  private readonly cleaned = new Set<string>();
  /** Directories whose entries changed, fsynced once at the end. */
  readonly dirSync = new DirSync();

  constructor(
    readonly rootFd: number,
    readonly input: FilesInput,
    readonly users: UserDb,
    readonly log: Log,
  ) {}

  get apply(): boolean {
    return this.input.apply;
  }

  addOldData(data: Buffer): { old_data_offset: number; old_data_length: number } {
    const offset = this.oldDataLength;
    this.oldData.push(data);
    this.oldDataLength += data.length;
    return { old_data_offset: offset, old_data_length: data.length };
  }

  isVirtual(path: string): boolean {
    return this.virtual.has(path);
  }

  markVirtual(path: string): void {
    this.virtual.add(path);
  }

  /**
   * The descriptor of the directory at `path`, walking down from the root
   * without following symlinks. The first time a real run needs a directory
   * (as the parent of an entry), stale temporary files of a crashed earlier
   * run are removed from it.
   */
  dir(path: string): number {
    const fd = this.open(path);
    if (this.apply && !this.cleaned.has(path)) {
      this.cleaned.add(path);
      for (const name of removeStaleTemps(fd)) {
        this.log(
          "verbose",
          `${quote(path === "/" ? `/${name}` : `${path}/${name}`)}: removed stale temporary file`,
        );
      }
    }
    return fd;
  }

  private open(path: string): number {
    if (path === "/") return this.rootFd;
    const cached = this.dirs.get(path);
    if (cached !== undefined) return cached;
    const [parent, name] = split(path);
    const fd = openDirAt(this.open(parent), name);
    this.dirs.set(path, fd);
    return fd;
  }

  /** A directory this run created: it has no stale temporary files. */
  markCreated(path: string): void {
    this.cleaned.add(path);
  }

  keepDir(path: string, fd: number): void {
    const old = this.dirs.get(path);
    if (old !== undefined && old !== fd) this.closeDir(old);
    this.dirs.set(path, fd);
  }

  forgetDir(path: string): void {
    const old = this.dirs.get(path);
    if (old !== undefined) this.closeDir(old);
    this.dirs.delete(path);
  }

  private closeDir(fd: number): void {
    this.dirSync.release(fd);
    closeSync(fd);
  }

  close(): void {
    this.dirSync.flush();
    for (const fd of this.dirs.values()) closeSync(fd);
    this.dirs.clear();
    closeSync(this.rootFd);
  }
}

/** "/a/b" -> ["/a", "b"]. */
function split(path: string): [string, string] {
  const i = path.lastIndexOf("/");
  return [i === 0 ? "/" : path.slice(0, i), path.slice(i + 1)];
}

/** What request.ts checks for the frame loop, again for direct callers: nothing invalid reaches a system call. */
function checkEntry(entry: FileEntry): void {
  const { path } = entry;
  if (path !== "/") {
    if (!path.startsWith("/") || path.endsWith("/")) throw new SafeFsError("invalid path");
    for (const part of path.slice(1).split("/")) {
      if (part === "" || part === "." || part === ".." || part.includes("\0"))
        throw new SafeFsError("invalid path");
    }
  }
  if (!Number.isInteger(entry.mode) || entry.mode < 0 || entry.mode > 0o7777)
    throw new SafeFsError("invalid mode");
  for (const owner of [entry.user, entry.group]) {
    if (
      typeof owner === "number" &&
      (!Number.isInteger(owner) || owner < 0 || owner >= 2 ** 32 - 1)
    ) {
      throw new SafeFsError(`invalid id ${owner}`);
    }
  }
}

function ownerInfo(
  run: Run,
  uid: number,
  gid: number,
): Pick<FileInfo, "user" | "uid" | "group" | "gid"> {
  return {
    user: run.users.users.byId.get(uid) ?? null,
    uid,
    group: run.users.groups.byId.get(gid) ?? null,
    gid,
  };
}

function statInfo(run: Run, st: Stats): FileInfo {
  const type = fileType(st);
  return {
    type,
    mode: type === "symlink" ? 0o777 : st.mode & 0o7777,
    ...ownerInfo(run, st.uid, st.gid),
  };
}

function newInfo(run: Run, entry: FileEntry): FileInfo {
  const user = resolveOwner(run.users.users, entry.user, "user");
  const group = resolveOwner(run.users.groups, entry.group, "group");
  return {
    type: entry.type,
    mode: entry.type === "symlink" ? 0o777 : entry.mode,
    user: user.name,
    uid: user.id,
    group: group.name,
    gid: group.id,
  };
}

function sameMeta(a: FileInfo, b: FileInfo): boolean {
  return a.type === b.type && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
}

function entryData(run: Run, entry: FileEntry): Buffer {
  if (entry.data_offset === undefined) {
    // The comparison before asking for content found it unchanged, and now it differs.
    throw new SafeFsError("content was not sent: the file changed during the sync; sync again");
  }
  const offset = entry.data_offset;
  const length = entry.data_length ?? 0;
  if (offset + length > run.input.data.length)
    throw new SafeFsError("content lies outside the request");
  return run.input.data.subarray(offset, offset + length);
}

/** Whether `old` (all of a regular file) is the entry's content: by SHA-256 when announced, else bytes. */
function sameBytes(run: Run, entry: FileEntry, old: Buffer): boolean {
  if (entry.sha256 !== undefined) {
    return (
      old.length === entry.size && createHash("sha256").update(old).digest("hex") === entry.sha256
    );
  }
  return old.equals(entryData(run, entry));
}

/** What is on the host at a path: its info, and for files and symlinks what the diff needs. */
interface Existing {
  info: FileInfo;
  /** Same content as the entry (only meaningful when the types match). */
  sameContent: boolean;
  /** Old content for the diff (regular file up to MAX_DIFF_CONTENT, or symlink target). */
  oldContent: Buffer | null;
  oldSize?: number;
}

function inspect(run: Run, parentFd: number, name: string, st: Stats, entry: FileEntry): Existing {
  const info = statInfo(run, st);
  if (info.type === "symlink") {
    const target = readlinkAt(parentFd, name);
    const same = entry.type === "symlink" && target.equals(Buffer.from(entry.target ?? "", "utf8"));
    return { info, sameContent: same, oldContent: target };
  }
  if (info.type !== "file") return { info, sameContent: false, oldContent: null };
  // Trust only the descriptor: the entry may have been swapped since lstat().
  const { fd, stat } = openForCompare(parentFd, name);
  try {
    const real = statInfo(run, stat);
    if (real.type !== "file") return { info: real, sameContent: false, oldContent: null };
    // A file with several names may be a hard link a local user planted to
    // another file: its content is compared, but never sent for a diff.
    const diffable = stat.size <= MAX_DIFF_CONTENT && stat.nlink === 1;
    if (entry.type !== "file") {
      const old = diffable ? readAll(fd, stat.size) : null;
      return { info: real, sameContent: false, oldContent: old, oldSize: stat.size };
    }
    if (diffable) {
      const old = readAll(fd, stat.size);
      return {
        info: real,
        sameContent: sameBytes(run, entry, old),
        oldContent: old,
        oldSize: stat.size,
      };
    }
    return {
      info: real,
      sameContent:
        entry.sha256 !== undefined
          ? stat.size === entry.size && sameHash(fd, stat.size, entry.sha256)
          : sameContent(fd, stat.size, entryData(run, entry)),
      oldContent: null,
      oldSize: stat.size,
    };
  } finally {
    closeSync(fd);
  }
}

/** Brings the root directory itself (entry "/") to its mode and owner, in place. */
function syncRoot(run: Run, entry: FileEntry, wanted: FileInfo): void {
  if (entry.type !== "dir") throw new SafeFsError("the root must be a directory");
  const st = fstatSync(run.rootFd);
  const old = statInfo(run, st);
  if (sameMeta(old, wanted)) return;
  run.changes.push({ path: "/", created: false, old, new: wanted, content_changed: false });
  if (run.apply) changeDir(run.rootFd, st, wanted.mode, wanted.uid, wanted.gid);
}

function create(
  run: Run,
  parentFd: number,
  name: string,
  entry: FileEntry,
  wanted: FileInfo,
): void {
  if (entry.type === "file") {
    const data = entryData(run, entry);
    writeFileAt(parentFd, name, data, wanted.mode, wanted.uid, wanted.gid, run.dirSync);
  } else if (entry.type === "symlink")
    symlinkAt(parentFd, name, entry.target ?? "", wanted.uid, wanted.gid, run.dirSync);
  else {
    const fd = mkdirAt(parentFd, name, wanted.mode, wanted.uid, wanted.gid, run.dirSync);
    run.keepDir(entry.path, fd);
    run.markCreated(entry.path);
  }
}

/**
 * Compares one entry with the host and, when `run.apply`, changes the host.
 * Appends the change (if any) before acting, so a failure still reports it.
 */
function syncEntry(run: Run, entry: FileEntry): void {
  const { path } = entry;
  checkEntry(entry);
  const wanted = newInfo(run, entry);
  if (path === "/") return syncRoot(run, entry, wanted);
  const [parent, name] = split(path);
  const verb = run.apply ? "" : "would be ";

  const created = (): void => {
    run.changes.push({
      path,
      created: true,
      old: null,
      new: wanted,
      content_changed: entry.type !== "dir",
    });
    run.log("verbose", `${quote(path)}: ${verb}created`);
  };

  if (run.isVirtual(parent)) {
    // Dry-run below a directory that does not exist yet: nothing to compare.
    created();
    if (entry.type === "dir") run.markVirtual(path);
    return;
  }

  const parentFd = run.dir(parent);
  const st = lstatAt(parentFd, name);

  if (st === null) {
    created();
    if (run.apply) create(run, parentFd, name, entry, wanted);
    else if (entry.type === "dir") run.markVirtual(path);
    return;
  }

  if (entry.type === "dir") {
    if (st.isDirectory()) {
      const fd = openDirAt(parentFd, name);
      run.keepDir(path, fd);
      const real = fstatSync(fd);
      const old = statInfo(run, real);
      if (sameMeta(old, wanted)) return run.log("debug2", `${quote(path)}: unchanged`);
      run.changes.push({ path, created: false, old, new: wanted, content_changed: false });
      run.log("verbose", `${quote(path)}: ${verb}updated`);
      if (run.apply) changeDir(fd, real, wanted.mode, wanted.uid, wanted.gid);
      return;
    }
    // A file, symlink or special file where a directory belongs: remove that
    // single entry (a symlink is never followed), then create the directory.
    run.changes.push({
      path,
      created: false,
      old: statInfo(run, st),
      new: wanted,
      content_changed: false,
    });
    run.log("verbose", `${quote(path)}: ${verb}replaced`);
    if (!run.apply) return run.markVirtual(path);
    unlinkAt(parentFd, name, run.dirSync);
    create(run, parentFd, name, entry, wanted);
    return;
  }

  if (st.isDirectory()) {
    // Only an empty directory is ever removed; checked in dry-run too, so it
    // reports the same error as a real run.
    const fd = openDirAt(parentFd, name);
    let empty: boolean;
    try {
      empty = isEmptyDir(fd);
    } finally {
      closeSync(fd);
    }
    run.changes.push({
      path,
      created: false,
      old: statInfo(run, st),
      new: wanted,
      content_changed: true,
    });
    if (!empty) throw new SafeFsError(NON_EMPTY_DIR);
    run.log("verbose", `${quote(path)}: ${verb}replaced`);
    if (!run.apply) return;
    run.forgetDir(path);
    rmdirAt(parentFd, name);
    create(run, parentFd, name, entry, wanted);
    return;
  }

  const existing = inspect(run, parentFd, name, st, entry);
  const sameType = existing.info.type === entry.type;
  if (sameType && existing.sameContent && sameMeta(existing.info, wanted)) {
    return run.log("debug2", `${quote(path)}: unchanged`);
  }
  const change: FileChange = {
    path,
    created: false,
    old: existing.info,
    new: wanted,
    content_changed: !sameType || !existing.sameContent,
  };
  if (change.content_changed) {
    if (existing.oldContent !== null) Object.assign(change, run.addOldData(existing.oldContent));
    if (existing.oldSize !== undefined) change.old_size = existing.oldSize;
  }
  run.changes.push(change);
  run.log("verbose", `${quote(path)}: ${verb}${sameType ? "updated" : "replaced"}`);
  // Rename over the old entry (file, symlink, FIFO, socket, device): the path never disappears.
  if (run.apply) create(run, parentFd, name, entry, wanted);
}

/**
 * Brings the files of a sync request into place (or compares only, when
 * `apply` is false). The first error stops; everything up to it is returned.
 */
export function syncFiles(input: FilesInput): FilesResult {
  const log = input.log ?? silent;
  let rootFd: number;
  try {
    rootFd = openRoot(input.root);
  } catch (err) {
    return { changes: [], oldData: [], error: describeError(err) };
  }
  const run = new Run(rootFd, input, input.users ?? loadUserDb(), log);
  let error: string | null = null;
  try {
    for (const entry of input.files) {
      try {
        syncEntry(run, entry);
      } catch (err) {
        error = `${quote(entry.path)}: ${describeError(err)}`;
        log("debug", `error: ${error}`);
        break;
      }
    }
    // Every directory whose entries changed is fsynced once, before the report.
    run.dirSync.flush();
  } catch (err) {
    error ??= describeError(err);
  } finally {
    run.close();
  }
  return { changes: run.changes, oldData: run.oldData, error };
}
