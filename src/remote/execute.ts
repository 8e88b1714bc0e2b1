// The file engine's one actor: carries out a plan's actions in order (or, in
// dry-run, only reports them: the same code with apply=false). Every
// operation goes through the descriptor-relative layer; the walk holds one
// descriptor per level of the tree, closed when its subtree is done.

import { closeSync, fstatSync, fsyncSync } from "node:fs";
import type { FileChange, FileEntry } from "../protocol/messages.ts";
import { checkStop } from "./abort.ts";
import { openFileNoFollow, removeAcl } from "./acl.ts";
import { quote, type Log } from "./log.ts";
import { entryData } from "./observe.ts";
import { splitPath, type Action, type DirState } from "./plan.ts";
import {
  DirSync,
  changeDir,
  describeError,
  mkdirPrivate,
  openDirAt,
  rmdirAt,
  symlinkAt,
  unlinkAt,
  writeFileAt,
} from "./safe-fs.ts";

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

function act(action: Action, input: ExecuteInput, dirs: DirStack): void {
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
    case "write": {
      const data = entryData(input.entries.get(path)!, input.data);
      writeFileAt(dirs.fd(parent), name, data, action.mode, action.uid, action.gid, sync);
      return;
    }
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

/**
 * Carries out `actions` in order; with apply=false only logs them. The first
 * error stops (checkStop() before every change ends an interrupted helper
 * the same way); temporary files are removed on every error path by the
 * operations themselves. Every directory whose entries, mode or owner
 * changed is fsynced before this returns without error.
 */
export function execute(input: ExecuteInput): ExecuteResult {
  const begun = new Set<number>();
  const dirSync = new DirSync();
  const dirs = new DirStack(input.rootFd, dirSync);
  let error: string | null = null;
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
        act(action, input, dirs);
      } catch (err) {
        error = `${quote(action.path)}: ${describeError(err)}`;
        input.log("debug", `error: ${error}`);
        break;
      }
    }
  } finally {
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
