// The file engine's one actor: carries out a plan's actions in order (or, in
// dry-run, only reports them: the same code with apply=false). Every
// operation goes through the descriptor-relative layer; the walk holds one
// descriptor per level of the tree, closed when its subtree is done.

import { closeSync, fstatSync, fsyncSync } from "node:fs";
import type { FileChange, FileEntry } from "../protocol/messages.ts";
import { checkStop } from "./abort.ts";
import { AclProbe, canRemoveAcl, openFileNoFollow, removeAcl } from "./acl.ts";
import { FsyncFailed, FsyncPool } from "./fsync-pool.ts";
import { quote, type Log } from "./log.ts";
import { entryData } from "./observe.ts";
import { inheritedAclNotRemovable, splitPath, type Action, type DirState } from "./plan.ts";
import {
  DirSync,
  SafeFsError,
  changeDir,
  commitFile,
  describeError,
  discardFile,
  mkdirPrivate,
  openDirAt,
  prepareFile,
  rmdirAt,
  symlinkAt,
  unlinkAt,
  type PreparedFile,
} from "./safe-fs.ts";
import { validateFile } from "./validate.ts";

export interface ExecuteInput {
  rootFd: number;
  actions: readonly Action[];
  changes: readonly FileChange[];
  /** The request's entries by path (file content, symlink targets). */
  entries: ReadonlyMap<string, FileEntry>;
  /** The attachment the entries' data_offset/data_length point into. */
  data: Buffer;
  apply: boolean;
  log: Log;
}

export interface ExecuteResult {
  /** Indexes of the changes that were begun (all of them when there is no error). */
  begun: Set<number>;
  /** `"path": reason` of the action that failed, or null. */
  error: string | null;
}

/** Whether `dir` is `path` or a directory above it. */
function contains(dir: string, path: string): boolean {
  return dir === path || dir === "/" || path.startsWith(`${dir}/`);
}

/** The open directories from the root down to the one the last action needed. */
class DirStack {
  private readonly stack: { path: string; fd: number }[];

  constructor(
    rootFd: number,
    readonly dirSync: DirSync,
  ) {
    this.stack = [{ path: "/", fd: rootFd }];
  }

  private get top(): { path: string; fd: number } {
    return this.stack[this.stack.length - 1];
  }

  /** The descriptor of the directory `path`, opening it (one component at a time) from the deepest open one above it. */
  fd(path: string): number {
    while (!contains(this.top.path, path)) this.pop();
    while (this.top.path !== path) {
      const rest = path.slice(this.top.path === "/" ? 1 : this.top.path.length + 1);
      const name = rest.split("/")[0];
      const sub = this.top.path === "/" ? `/${name}` : `${this.top.path}/${name}`;
      this.stack.push({ path: sub, fd: openDirAt(this.top.fd, name) });
    }
    return this.top.fd;
  }

  /** A directory just made: its descriptor becomes the deepest open one. */
  push(path: string, fd: number): void {
    this.stack.push({ path, fd });
  }

  /** Closes the deepest open directory, fsyncing it first when it changed. */
  private pop(): void {
    const { fd } = this.stack.pop()!;
    try {
      this.dirSync.release(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Closes every directory it opened (the root stays open), fsyncing those that changed; throws the first failure. */
  close(): void {
    let first: Error | null = null;
    while (this.stack.length > 1) {
      try {
        this.pop();
      } catch (err) {
        first ??= err instanceof Error ? err : new Error(String(err));
      }
    }
    if (first !== null) throw first;
  }
}

function verb(change: FileChange, apply: boolean): string {
  const what =
    change.old === null ? "created" : change.old.type !== change.new.type ? "replaced" : "updated";
  return `${apply ? "" : "would be "}${what}`;
}

/** Mode and owner of the open directory `fd` set to `state` (changeDir keeps the order safe); fsynced later. */
function setDir(fd: number, state: DirState, dirSync: DirSync): void {
  changeDir(fd, fstatSync(fd), state.mode, state.uid, state.gid);
  dirSync.add(fd);
}

function act(action: Action, dirs: DirStack): void {
  const { path } = action;
  const [parent, name] = splitPath(path);
  const sync = dirs.dirSync;
  switch (action.op) {
    case "mkdir":
      dirs.push(path, mkdirPrivate(dirs.fd(parent), name, sync));
      return;
    case "rmdir":
      rmdirAt(dirs.fd(parent), name);
      sync.add(dirs.fd(parent));
      return;
    case "unlink":
      unlinkAt(dirs.fd(parent), name, sync);
      return;
    case "write":
      // Batched: see Batch.
      return;
    case "symlink":
      symlinkAt(dirs.fd(parent), name, action.target, action.uid, action.gid, sync);
      return;
    case "restrict":
    case "grant":
      setDir(dirs.fd(path), action, sync);
      return;
    case "unacl":
      if (action.type === "dir") {
        const fd = dirs.fd(path);
        removeAcl(fd, "dir", action.mode);
        sync.add(fd);
        return;
      } else {
        const fd = openFileNoFollow(dirs.fd(parent), name);
        try {
          removeAcl(fd, "file", action.mode);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
  }
}

/** Files written but at most this many at once (each holds a descriptor until its rename). */
const MAX_BATCH = 32;

/**
 * Consecutive files written into one directory: each is prepared (temporary
 * file with content, owner and mode), then all are fsynced together (in
 * parallel, see fsync-pool.ts), then each is renamed into place in order.
 * Still durable: no rename happens before the fsync of that file has
 * returned successfully, and the directory is fsynced before the helper
 * reports, as for a single file. Still ordered: the batch is renamed before
 * the next action that is not a write into the same directory, so no
 * action that grants access can come before a file below it is final.
 */
class Batch {
  private parent: string | null = null;
  private files: { file: PreparedFile; action: Action; validate?: string }[] = [];
  /** The changes of a failed commit's files that were not renamed. */
  private unrenamed: number[] = [];

  constructor(
    private readonly pool: FsyncPool,
    private readonly dirSync: DirSync,
  ) {}

  add(action: Extract<Action, { op: "write" }>, input: ExecuteInput, dirs: DirStack): void {
    const [parent, name] = splitPath(action.path);
    if (this.parent !== parent || this.files.length >= MAX_BATCH) this.commit();
    const entry = input.entries.get(action.path)!;
    const data = entryData(entry, input.data);
    const file = prepareFile(dirs.fd(parent), name, data, action.mode, action.uid, action.gid);
    this.parent = parent;
    this.files.push({ file, action, validate: entry.validate });
  }

  /** Fsyncs and renames what was prepared; on an error (or a stop) the rest is discarded. */
  commit(): void {
    const files = this.files;
    this.files = [];
    this.parent = null;
    let next = 0;
    let renaming = false;
    try {
      inheritedAcls(files);
      this.pool.fsyncAll(files.map((f) => f.file.fd));
      for (; next < files.length; next++) {
        checkStop();
        // validate.yaml (SPEC 3.5): final content, owner and mode, not yet in place.
        const { validate, file } = files[next];
        if (validate !== undefined) validateFile(file.fd, validate);
        renaming = true;
        commitFile(files[next].file, this.dirSync);
        renaming = false;
      }
    } catch (err) {
      // A failed rename removed its own temporary file; the others not renamed go.
      for (const f of files.slice(renaming ? next + 1 : next)) discardFile(f.file);
      this.unrenamed = files.slice(next).map((f) => f.action.change);
      const fsync = err instanceof FsyncFailed;
      throw new ActionError(files[fsync ? err.index : next].action, fsync ? err.cause : err);
    }
  }

  /** Removes the temporary files of a run that stops; returns the changes they were part of
   * (with those of a failed commit that were not renamed). */
  discard(): number[] {
    for (const f of this.files) discardFile(f.file);
    const changes = [...this.unrenamed, ...this.files.map((f) => f.action.change)];
    this.files = [];
    return changes;
  }
}

/**
 * A temporary file inherits its directory's default ACL, which fchmod then
 * switches on. Managed directories lose theirs before their subtree (plan.ts),
 * but a directory that another user owns (or one the request does not
 * manage) may have got one since it was looked at: its new files are
 * checked (one `ls` per batch) and an inherited ACL is removed before the
 * rename. Directories of the helper's own user are not asked: only it (or
 * root) could have added one.
 */
function inheritedAcls(files: { file: PreparedFile; action: Action }[]): void {
  const first = files[0];
  if (first === undefined) return;
  if (fstatSync(first.file.dirFd).uid === (process.geteuid?.() ?? 0)) return;
  const probe = new AclProbe();
  const marks = files.map((f) => {
    const mark = { acl: false };
    probe.add(f.file.dirFd, f.file.tmp, mark);
    return mark;
  });
  probe.flush();
  files.forEach((f, i) => {
    if (!marks[i].acl) return;
    if (!canRemoveAcl())
      throw new ActionError(f.action, new SafeFsError(inheritedAclNotRemovable()));
    if (f.action.op === "write") removeAcl(f.file.fd, "file", f.action.mode);
  });
}

/** An error of a batched action, naming that action's path. */
class ActionError extends Error {
  constructor(
    readonly action: Action,
    override readonly cause: unknown,
  ) {
    super(describeError(cause));
  }
}

/** `"path": reason` for the action that failed (a batched one names its own). */
function failure(action: Action | null, err: unknown): string {
  if (err instanceof ActionError) return `${quote(err.action.path)}: ${describeError(err.cause)}`;
  return `${quote(action?.path ?? "/")}: ${describeError(err)}`;
}

/**
 * Carries out `actions` in order; with apply=false only logs them. The first
 * error stops (checkStop() before every change ends an interrupted helper
 * the same way); temporary files are removed on every error path by the
 * operations themselves. Every directory whose entries, mode or owner
 * changed is fsynced before this returns without error.
 */
export function execute(input: ExecuteInput): ExecuteResult {
  const begun = new Set<number>();
  /** Changes of which an action other than a batched write was carried out. */
  const acted = new Set<number>();
  const dirSync = new DirSync();
  const dirs = new DirStack(input.rootFd, dirSync);
  const pool = new FsyncPool();
  const batch = new Batch(pool, dirSync);
  let error: string | null = null;
  let failed = -1;
  try {
    for (const action of input.actions) {
      const change = input.changes[action.change];
      if (!begun.has(action.change)) {
        begun.add(action.change);
        input.log("verbose", `${quote(change.path)}: ${verb(change, input.apply)}`);
      }
      if (!input.apply) continue;
      try {
        checkStop();
        if (action.op === "write") batch.add(action, input, dirs);
        else {
          batch.commit();
          act(action, dirs);
          acted.add(action.change);
        }
      } catch (err) {
        error = failure(action, err);
        failed = err instanceof ActionError ? err.action.change : action.change;
        break;
      }
    }
    if (error === null && input.apply) {
      try {
        batch.commit();
      } catch (err) {
        error = failure(null, err);
        if (err instanceof ActionError) failed = err.action.change;
      }
    }
    if (error !== null) input.log("debug", `error: ${error}`);
  } finally {
    // Files prepared but never renamed were not changed: not reported, but
    // for the one whose change was being attempted.
    for (const change of batch.discard()) {
      if (change !== failed && !acted.has(change)) begun.delete(change);
    }
    pool.close();
    try {
      dirs.close();
      // Every directory whose entries changed is fsynced once, before the report.
      dirSync.flush();
    } catch (err) {
      error ??= describeError(err);
    }
  }
  return { begun, error };
}
