// The file engine's look at the host (SPEC 5.1, 6): walks the request's tree
// depth first through the descriptor-relative layer and records what is at
// every path, for plan.ts. It changes nothing, except that a real run removes
// the stale temporary files of a crashed earlier run from every directory it
// reads. At most one directory descriptor per level is held by the walk (plus
// the bounded batch of the ACL check), whatever the number of directories.

import { createHash } from "node:crypto";
import { closeSync, fstatSync, type Stats } from "node:fs";
import { MAX_DIFF_CONTENT, type FileEntry } from "../protocol/messages.ts";
import type { AclProbe } from "./acl.ts";
import { quote, type Log } from "./log.ts";
import { entryData, type Observation, type Present, type TreeNode } from "./tree.ts";
import {
  describeError,
  fileType,
  isEmptyDir,
  isUnfinished,
  lstatAt,
  openDirAt,
  openForCompare,
  readAll,
  readlinkAt,
  sameContent,
  sameHash,
} from "./safe-fs.ts";
import { removeStaleTemps } from "./cleanup.ts";

export interface ObserveInput {
  rootFd: number;
  tree: TreeNode;
  /** The attachment that entries' data_offset/data_length point into. */
  data: Buffer;
  /** A real run: remove stale temporary files from every directory read. */
  clean: boolean;
  log: Log;
  /** Look for ACLs (on by default; off where no `ls` could tell). */
  acl: AclProbe | null;
}

function present(st: Stats, extra: Partial<Present> = {}): Present {
  return {
    state: "present",
    type: fileType(st),
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    sameContent: false,
    acl: false,
    oldContent: null,
    ...extra,
  };
}

class Observer {
  readonly observed = new Map<string, Observation>();

  constructor(readonly input: ObserveInput) {}

  /** Everything below `node` (not node itself) is absent: its parent is not (or will not stay) a directory. */
  absentBelow(node: TreeNode): void {
    for (const child of node.children) {
      this.observed.set(child.path, { state: "absent" });
      this.absentBelow(child);
    }
  }

  /** Observes the children of the directory `node`, open as `fd`. */
  children(node: TreeNode, fd: number): void {
    if (node.children.length === 0) return;
    if (this.input.clean) {
      for (const name of removeStaleTemps(fd)) {
        const path = node.path === "/" ? `/${name}` : `${node.path}/${name}`;
        this.input.log("verbose", `${quote(path)}: removed stale temporary file`);
      }
    }
    for (const child of node.children) {
      try {
        this.child(child, fd);
      } catch (err) {
        this.observed.set(child.path, { state: "error", message: describeError(err) });
        this.absentBelow(child);
      }
    }
  }

  private child(node: TreeNode, parentFd: number): void {
    const st = lstatAt(parentFd, node.name);
    if (st === null) {
      this.observed.set(node.path, { state: "absent" });
      return this.absentBelow(node);
    }
    const wantsDir = node.entry === null || node.entry.type === "dir";
    if (st.isDirectory()) {
      const fd = openDirAt(parentFd, node.name);
      try {
        const real = fstatSync(fd);
        if (!wantsDir) {
          this.observed.set(node.path, present(real, { empty: isEmptyDir(fd) }));
          return this.absentBelow(node);
        }
        const obs = present(real, { dev: real.dev, ino: real.ino });
        if (node.entry?.keep === true && isUnfinished(fd)) obs.unfinished = true;
        this.observed.set(node.path, obs);
        // Every directory on the way, managed or not: an ACL there may be inherited by
        // what the sync creates, or let another user write (SPEC 6, hostile ground).
        this.input.acl?.add(fd, ".", obs);
        this.children(node, fd);
      } finally {
        // Closed now, or once the ACL check of entries in it has run.
        if (this.input.acl === null) closeSync(fd);
        else this.input.acl.done(fd);
      }
      return;
    }
    this.absentBelow(node);
    if (node.entry === null || node.entry.type === "dir") {
      this.observed.set(node.path, present(st));
      return;
    }
    const entry = node.entry;
    if (entry.type === "absent") {
      this.observed.set(node.path, present(st));
      return;
    }
    if (st.isSymbolicLink()) {
      const target = readlinkAt(parentFd, node.name);
      const same =
        entry.type === "symlink" && target.equals(Buffer.from(entry.target ?? "", "utf8"));
      this.observed.set(node.path, present(st, { sameContent: same, oldContent: target }));
      return;
    }
    if (!st.isFile()) {
      this.observed.set(node.path, present(st));
      return;
    }
    const obs = this.file(parentFd, node.name, entry);
    this.observed.set(node.path, obs);
    // An unchanged file keeps its inode, and with it any ACL; a changed one is replaced.
    if (obs.type === "file" && obs.sameContent) this.input.acl?.add(parentFd, node.name, obs);
  }

  /** A regular file: trust only the descriptor (the entry may have been swapped since lstat). */
  private file(parentFd: number, name: string, entry: FileEntry): Present {
    const { fd, stat } = openForCompare(parentFd, name);
    try {
      if (!stat.isFile()) return present(stat);
      // A file with several names may be a hard link a local user planted to
      // another file: its content is compared, but never sent for a diff.
      const diffable = stat.size <= MAX_DIFF_CONTENT && stat.nlink === 1;
      const oldSize = stat.size;
      if (entry.type !== "file") {
        return present(stat, { oldContent: diffable ? readAll(fd, stat.size) : null, oldSize });
      }
      if (diffable) {
        const old = readAll(fd, stat.size);
        const same = this.sameBytes(entry, old);
        // Old content is kept only where a diff may need it (memory: a no-op holds none).
        return present(stat, { sameContent: same, oldContent: same ? null : old, oldSize });
      }
      const same =
        entry.sha256 !== undefined
          ? stat.size === entry.size && sameHash(fd, stat.size, entry.sha256)
          : sameContent(fd, stat.size, entryData(entry, this.input.data));
      return present(stat, { sameContent: same, oldSize });
    } finally {
      closeSync(fd);
    }
  }

  /** Whether `old` (all of a regular file) is the entry's content: by SHA-256 when announced, else bytes. */
  private sameBytes(entry: FileEntry, old: Buffer): boolean {
    if (entry.sha256 !== undefined) {
      return (
        old.length === entry.size && createHash("sha256").update(old).digest("hex") === entry.sha256
      );
    }
    return old.equals(entryData(entry, this.input.data));
  }
}

/** What is on the host at every path of the tree (the root directory is open as input.rootFd). */
export function observe(input: ObserveInput): Map<string, Observation> {
  const observer = new Observer(input);
  const rootStat = fstatSync(input.rootFd);
  const root = present(rootStat, { dev: rootStat.dev, ino: rootStat.ino });
  observer.observed.set("/", root);
  input.acl?.add(input.rootFd, ".", root);
  try {
    observer.children(input.tree, input.rootFd);
    input.acl?.flush();
  } finally {
    input.acl?.close();
  }
  return observer.observed;
}
