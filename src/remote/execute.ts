// The file engine's one actor: carries out a plan's actions in order (or, in
// dry-run, only reports them: the same code with apply=false). Every
// operation goes through the descriptor-relative layer; the walk holds one
// descriptor per level of the tree, closed when its subtree is done.

import { closeSync, fstatSync, fsyncSync, type Stats } from "node:fs";
import type { FileChange, FileEntry } from "../protocol/messages.ts";
import { checkStop } from "./abort.ts";
import { aclOfOpen, canRemoveAcl, openFileNoFollow, removeAcl, setExactAcl } from "./acl.ts";
import { quote, type Log } from "./log.ts";
import {
  aclNotRemovable,
  hostileDir,
  inheritedAclNotRemovable,
  middleState,
  type Action,
  type Takeover,
} from "./plan.ts";
import { entryData, splitPath, type DirState, type Observation } from "./tree.ts";
import {
  DirSync,
  SafeFsError,
  changeDir,
  commitFile,
  createTemp,
  describeError,
  discardFile,
  fillTemp,
  markUnfinished,
  mkdirPrivate,
  openDirAt,
  rmdirAt,
  symlinkAt,
  unlinkAt,
  unmarkFinished,
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
  /** What the plan was made from: a directory opened by name must be the one looked at. */
  observed: ReadonlyMap<string, Observation>;
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

function self(): { uid: number; gid: number } {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
}

interface OpenDir {
  path: string;
  fd: number;
  /** What is created in it must lose every inherited ACL before it gets access (SPEC 6). */
  strip: boolean;
}

/**
 * The open directories from the root down to the one the last action needed. A
 * directory opened by name must be the one that was looked at (same device and
 * inode): another user who could replace it since then does not get the plan carried
 * out in a directory of theirs.
 */
class DirStack {
  private readonly stack: OpenDir[];

  constructor(
    rootFd: number,
    readonly dirSync: DirSync,
    private readonly observed: ReadonlyMap<string, Observation> | null,
  ) {
    this.stack = [{ path: "/", fd: rootFd, strip: this.mustStrip("/", fstatSync(rootFd)) }];
  }

  private get top(): OpenDir {
    return this.stack[this.stack.length - 1];
  }

  /**
   * Whether entries created in this directory must lose inherited ACLs first: it had an
   * ACL when looked at (a default ACL is inherited), or it is hostile now (another user
   * may have added one since; SPEC 6).
   */
  private mustStrip(path: string, st: Stats): boolean {
    const obs = this.observed?.get(path);
    const acl = obs === undefined || obs.state !== "present" || obs.acl;
    return (
      acl || hostileDir({ mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, acl: false }, self())
    );
  }

  /** The descriptor of the directory `path`, opening it (one component at a time) from the deepest open one above it. */
  fd(path: string): number {
    return this.open(path).fd;
  }

  /** Whether what is created in the directory `path` must lose inherited ACLs first. */
  strip(path: string): boolean {
    return this.open(path).strip;
  }

  private open(path: string): OpenDir {
    while (!contains(this.top.path, path)) this.pop();
    while (this.top.path !== path) {
      const rest = path.slice(this.top.path === "/" ? 1 : this.top.path.length + 1);
      const name = rest.split("/")[0];
      const sub = this.top.path === "/" ? `/${name}` : `${this.top.path}/${name}`;
      const fd = openDirAt(this.top.fd, name);
      let st: Stats;
      try {
        st = fstatSync(fd);
        const obs = this.observed?.get(sub);
        if (obs?.state === "present" && obs.ino !== undefined) {
          if (st.dev !== obs.dev || st.ino !== obs.ino) {
            throw new SafeFsError(
              `directory ${quote(sub)} was replaced during the sync (by another user?); sync again`,
            );
          }
        }
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      this.stack.push({ path: sub, fd, strip: this.mustStrip(sub, st) });
    }
    return this.top;
  }

  /** A directory just made (private, inherited ACLs removed): the deepest open one. */
  push(path: string, fd: number): void {
    this.stack.push({ path, fd, strip: false });
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

/**
 * Takes every inherited ACL away from entries the helper just created (all directories
 * or all temporary files, private so far), before they get content or access; one
 * `setfacl` for all of them. Without setfacl an inherited ACL cannot be removed: then
 * it is an error when one is found (by descriptor), and nothing more can be done when
 * neither ls nor getfacl can tell.
 */
function stripInherited(fds: number[], type: "dir" | "file", mode: number): void {
  if (fds.length === 0) return;
  if (canRemoveAcl()) return setExactAcl(fds, type, mode);
  const found = aclOfOpen(fds, type === "dir");
  if (found?.some((acl) => acl) === true) throw new SafeFsError(inheritedAclNotRemovable());
}

function verb(change: FileChange, apply: boolean): string {
  const what =
    change.removed === true
      ? "removed"
      : change.old === null
        ? "created"
        : change.old.type !== change.new.type
          ? "replaced"
          : "updated";
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
    case "mkdir": {
      const strip = dirs.strip(parent);
      const fd = mkdirPrivate(dirs.fd(parent), name, sync);
      try {
        if (strip) stripInherited([fd], "dir", 0o700);
        markUnfinished(fd);
      } catch (err) {
        closeSync(fd);
        try {
          rmdirAt(dirs.fd(parent), name);
        } catch {
          // not ours to remove any more; the original error matters
        }
        throw err;
      }
      dirs.push(path, fd);
      return;
    }
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
      setDir(dirs.fd(path), action, sync);
      return;
    case "grant": {
      const fd = dirs.fd(path);
      unmarkFinished(fd);
      setDir(fd, action, sync);
      return;
    }
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
 * Consecutive files written into one directory: each temporary file is created
 * (private, empty), then all lose any inherited ACL at once where the directory needs
 * it (one setfacl), then each gets content, owner and mode, then all are fsynced
 * one after the other, then each is renamed into place in order.
 * So no temporary file ever has more access than its final mode, and no ACL (issue
 * 18, scenario C). Still durable: no rename happens before the fsync of that file has
 * returned successfully, and the directory is fsynced before the helper reports, as
 * for a single file. Still ordered: the batch is renamed before the next action that
 * is not a write into the same directory, so no action that grants access can come
 * before a file below it is final.
 */
class Batch {
  private parent: string | null = null;
  private strip = false;
  private files: {
    file: PreparedFile;
    action: Extract<Action, { op: "write" }>;
    data: Buffer;
    validate?: string;
  }[] = [];
  /** The changes of a failed commit's files that were not renamed. */
  private unrenamed: number[] = [];

  constructor(private readonly dirSync: DirSync) {}

  add(action: Extract<Action, { op: "write" }>, input: ExecuteInput, dirs: DirStack): void {
    const [parent, name] = splitPath(action.path);
    if (this.parent !== parent || this.files.length >= MAX_BATCH) this.commit();
    const entry = input.entries.get(action.path)!;
    const data = entryData(entry, input.data);
    this.strip = dirs.strip(parent);
    const file = createTemp(dirs.fd(parent), name);
    this.parent = parent;
    this.files.push({ file, action, data, validate: entry.validate });
  }

  /** Fills, fsyncs and renames what was created; on an error (or a stop) the rest is discarded. */
  commit(): void {
    const files = this.files;
    this.files = [];
    this.parent = null;
    let next = 0;
    let renaming = false;
    let filling = -1;
    let fsyncing = -1;
    try {
      if (this.strip) {
        stripInherited(
          files.map((f) => f.file.fd),
          "file",
          0o600,
        );
      }
      for (filling = 0; filling < files.length; filling++) {
        const { file, action, data } = files[filling];
        fillTemp(file, data, action.mode, action.uid, action.gid);
      }
      filling = -1;
      for (fsyncing = 0; fsyncing < files.length; fsyncing++) fsyncSync(files[fsyncing].file.fd);
      fsyncing = -1;
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
      // A failed fill or rename removed its own temporary file; the others not renamed go.
      const failedFill = filling >= 0 ? files[filling] : undefined;
      const from = failedFill !== undefined ? 0 : renaming ? next + 1 : next;
      for (const f of files.slice(from)) if (f !== failedFill) discardFile(f.file);
      this.unrenamed = files.slice(next).map((f) => f.action.change);
      const at = fsyncing >= 0 ? fsyncing : filling >= 0 ? filling : next;
      throw new ActionError(files[at].action, err);
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
  const dirs = new DirStack(input.rootFd, dirSync, input.observed);
  const batch = new Batch(dirSync);
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

/** What taking over the hostile directories did. */
export interface TakeoverResult {
  /** Directories whose ACL was found (after the owner change) and removed. */
  aclRemoved: Set<string>;
  /** How many takeovers were carried out (all of them when there is no error). */
  done: number;
  /** `"path": reason`, or null. */
  error: string | null;
}

/**
 * Takes over directories that another user owns or can write, top-down, before anything
 * below them is decided (SPEC 6, hostile ground): each is held in the state between the
 * old and its declared one (mode bits both allow, the helper's owner where the owner
 * changes: middleState), computed from what is there now, not from the earlier look;
 * then, once no other user can change it any more, its ACL is looked at again (by
 * descriptor) and removed. What is below is looked at afterwards, by the caller.
 */
export function takeOver(rootFd: number, takeovers: readonly Takeover[]): TakeoverResult {
  const dirSync = new DirSync();
  // No look to compare with: whatever directory is at the path now is the one taken over.
  const dirs = new DirStack(rootFd, dirSync, null);
  const aclRemoved = new Set<string>();
  let done = 0;
  let error: string | null = null;
  try {
    for (const t of takeovers) {
      try {
        checkStop();
        const fd = dirs.fd(t.path);
        const st = fstatSync(fd);
        const now: DirState = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
        const middle = middleState(now, t.wanted, self());
        changeDir(fd, st, middle.mode, middle.uid, middle.gid);
        dirSync.add(fd);
        const acl = aclOfOpen([fd], true);
        if (acl?.[0] === true) {
          if (!canRemoveAcl()) throw new SafeFsError(aclNotRemovable());
          setExactAcl([fd], "dir", middle.mode);
          aclRemoved.add(t.path);
        }
        done++;
      } catch (err) {
        error = `${quote(t.path)}: ${describeError(err)}`;
        break;
      }
    }
  } finally {
    try {
      dirs.close();
      dirSync.flush();
    } catch (err) {
      error ??= describeError(err);
    }
  }
  return { aclRemoved, done, error };
}
