// The file engine's vocabulary (SPEC 5.1): the request's entries as a tree, what was
// found at each path (observe.ts fills it in), and the content of an entry. The three
// pieces of the engine speak it: observe.ts looks, plan.ts decides, execute.ts acts
// (files.ts runs them in that order).

import type { FileEntry, OldFileType } from "../protocol/messages.ts";
import { quote } from "./log.ts";
import { SafeFsError } from "./safe-fs.ts";

/** One path of the request, or a directory above one that the request does not manage. */
export interface TreeNode {
  path: string;
  name: string;
  /** Position in the request; -1 for an unmanaged directory on the way. */
  index: number;
  entry: FileEntry | null;
  children: TreeNode[];
}

/** "/a/b" -> ["/a", "b"]. */
export function splitPath(path: string): [string, string] {
  const i = path.lastIndexOf("/");
  return [i === 0 ? "/" : path.slice(0, i), path.slice(i + 1)];
}

/** Checks what request.ts checks, again for direct callers: nothing invalid reaches a system call. */
export function entryProblem(entry: FileEntry): string | null {
  const { path } = entry;
  if (path !== "/") {
    if (!path.startsWith("/") || path.endsWith("/")) return "invalid path";
    for (const part of path.slice(1).split("/")) {
      if (part === "" || part === "." || part === ".." || part.includes("\0"))
        return "invalid path";
    }
  }
  if (!Number.isInteger(entry.mode) || entry.mode < 0 || entry.mode > 0o7777) return "invalid mode";
  for (const owner of [entry.user, entry.group]) {
    if (
      typeof owner === "number" &&
      (!Number.isInteger(owner) || owner < 0 || owner >= 2 ** 32 - 1)
    ) {
      return `invalid id ${owner}`;
    }
  }
  return null;
}

/**
 * The entries as a tree rooted at "/" (an unmanaged "/" when the request has
 * none), children in request order. Directories above an entry that the
 * request does not list become unmanaged nodes: they must exist.
 */
export function buildTree(entries: readonly FileEntry[]): { root: TreeNode; problems: string[] } {
  const root: TreeNode = { path: "/", name: "", index: -1, entry: null, children: [] };
  const nodes = new Map<string, TreeNode>([["/", root]]);
  const problems: string[] = [];
  const node = (path: string): TreeNode => {
    const found = nodes.get(path);
    if (found !== undefined) return found;
    const [parent, name] = splitPath(path);
    const created: TreeNode = { path, name, index: -1, entry: null, children: [] };
    node(parent).children.push(created);
    nodes.set(path, created);
    return created;
  };
  entries.forEach((entry, index) => {
    const problem = entryProblem(entry);
    if (problem !== null) {
      problems.push(`${quote(entry.path)}: ${problem}`);
      return;
    }
    const n = node(entry.path);
    if (n.entry !== null) problems.push(`${quote(entry.path)}: listed twice`);
    n.entry = entry;
    n.index = index;
  });
  return { root, problems };
}

/** What observe.ts found at a path. */
export type Observation =
  /** Nothing there, or its parent does not exist (yet) or will be replaced. */
  { state: "absent" } | { state: "error"; message: string } | Present;

export interface Present {
  state: "present";
  type: OldFileType;
  mode: number;
  uid: number;
  gid: number;
  /** Regular file or symlink: same content (bytes or target) as the entry. */
  sameContent: boolean;
  /** A directory where a non-directory is wanted: whether it is empty. */
  empty?: boolean;
  /** An extended ACL (named entries, a mask or a default ACL) is set. */
  acl: boolean;
  /** Old content for the diff (regular file up to MAX_DIFF_CONTENT, or symlink target). */
  oldContent: Buffer | null;
  oldSize?: number;
  /** A directory an interrupted sync created and left unfinished (safe-fs NEW_DIR_MARKER). */
  unfinished?: boolean;
  /** Directories: device and inode, so that acting finds the directory that was looked at. */
  dev?: number;
  ino?: number;
}

/** Mode, owner and group of a directory, for the steps of a change in place. */
export interface DirState {
  mode: number;
  uid: number;
  gid: number;
}

/** The content of a regular file entry, from the attachment. */
export function entryData(entry: FileEntry, data: Buffer): Buffer {
  if (entry.data_offset === undefined) {
    // The comparison before asking for content found it unchanged, and now it differs.
    throw new SafeFsError("content was not sent: the file changed during the sync; sync again");
  }
  const offset = entry.data_offset;
  const length = entry.data_length ?? 0;
  if (offset + length > data.length) throw new SafeFsError("content lies outside the request");
  return data.subarray(offset, offset + length);
}
