// The file engine's decision (SPEC 5 step 4, 5.1, 6): a pure function from
// what is on the host (observe.ts) and what is wanted (the request's entries)
// to an ordered list of actions, which execute.ts carries out. No system call
// happens here, so the ordering rules are properties of the returned list
// that tests check directly:
//
// - the entries form a tree that is walked depth first; what takes access
//   away from a directory (dropping bits, taking it from an owner, removing
//   its ACL) comes before every action below it, what grants access (adding
//   bits, handing it to an owner) after every action below it;
// - a plan with an error has no action and no change at all.
//
// Adding a file attribute (an ACL was the last, absent.yaml and validate.yaml came
// after it): the field on FileEntry (protocol/messages.ts) and its check in
// remote/request.ts; what observe.ts must record about it in Present (tree.ts); the
// decision here (a change to report, the actions and their order: take access away
// before the subtree, grant after); the action in execute.ts through safe-fs.ts; the
// FileChange field, its check on the local side (protocol/validate.ts, session/replies.ts)
// and the reports (report/human.ts, report/json.ts, schemas/report.schema.json).

import {
  UNKNOWN_ID,
  type FileChange,
  type FileEntry,
  type FileInfo,
  type OldFileType,
  type Owner,
} from "../protocol/messages.ts";
import { quote } from "./log.ts";
import { NON_EMPTY_DIR, SYMLINK_IN_PATH } from "./safe-fs.ts";
import type { DirState, Observation, Present, TreeNode } from "./tree.ts";
import { resolveOwner, UnknownOwnerError, type UserDb } from "./users.ts";

export type Action =
  /** mkdir 0700 (owned by the helper) and keep its descriptor for the subtree. */
  | { op: "mkdir"; path: string; change: number }
  /** Remove an empty directory (rmdir refuses others). */
  | { op: "rmdir"; path: string; change: number }
  /** Remove a single non-directory (a symlink itself, never followed). */
  | { op: "unlink"; path: string; change: number }
  /** Temporary file with its final owner and mode, renamed over the path. */
  | { op: "write"; path: string; change: number; mode: number; uid: number; gid: number }
  | { op: "symlink"; path: string; change: number; target: string; uid: number; gid: number }
  /** A directory's mode and owner before its subtree: never more open than before or after. */
  | ({ op: "restrict"; path: string; change: number } & DirState)
  /** Remove every extended ACL entry and the default ACL, leaving `mode`. */
  | { op: "unacl"; path: string; change: number; type: "dir" | "file"; mode: number }
  /** A directory's final mode and owner, once everything below it is final. */
  | ({ op: "grant"; path: string; change: number } & DirState);

export interface PlanInput {
  root: TreeNode;
  observed: ReadonlyMap<string, Observation>;
  users: UserDb;
  /** The helper's own uid and gid: a directory changing hands is held by it in between. */
  self: { uid: number; gid: number };
  /** Packages will be installed: an unknown owner waits for them (SPEC 5 step 4). */
  deferUnknownOwners: boolean;
  /** The entries that waited for the packages, after them: an unknown owner is likely a typo. */
  afterPackages?: boolean;
  /** Whether an ACL can be removed on this host (setfacl exists). */
  canRemoveAcl: boolean;
  /**
   * A real run: the takeovers are carried out and everything below them is looked at
   * again before anything else. An entry below one that could not be looked at (another
   * user renamed it away, say) is left to that second look instead of failing the sync.
   */
  lookAgain?: boolean;
}

export interface Plan {
  actions: Action[];
  /** In request order; actions refer to them by index into this list before sorting (see order). */
  changes: FileChange[];
  /** The old contents that changes' old_data_offset/length point into. */
  oldData: Buffer[];
  /** `"path": reason`; when not empty, actions and changes are empty. */
  errors: string[];
  /** Entries whose owner does not exist yet, with everything below them, in request order. */
  deferred: FileEntry[];
  /**
   * Directories that another user owns or can write (or whose ACL may let them) and that
   * this plan makes trusted, top-down: a real run takes them over first, then looks again
   * below them and plans from that look (SPEC 6, hostile ground).
   */
  takeovers: Takeover[];
  /** Lines for the report: undeclared directories on the way that another user owns. */
  warnings: string[];
  /** How the deferred entries would change (their owner does not exist yet), in request order. */
  waiting: FileChange[];
}

/** A directory to take over before anything below it is decided. */
export interface Takeover {
  path: string;
  /** The change (index into Plan.changes) that reports it. */
  change: number;
  /** Its declared final state. */
  wanted: DirState;
}

/**
 * Whether a directory can change under the helper, and so can its ACL: another user
 * (neither root nor the helper's) owns it, or others may write to it: group or other
 * write bits without the sticky bit (with it, others may add entries but not move the
 * helper's), or an extended ACL, which may grant write to a named user.
 */
export function hostileDir(state: DirState & { acl: boolean }, self: { uid: number }): boolean {
  if (state.uid !== 0 && state.uid !== self.uid) return true;
  if ((state.mode & 0o1000) !== 0) return false;
  return (state.mode & 0o022) !== 0 || state.acl;
}

/** Why an ACL cannot be removed; fires when an entry has one and setfacl is missing. */
export function aclNotRemovable(): string {
  return 'has an ACL (extended access entries) that cannot be removed: setfacl is missing; install the package "acl"';
}

/** Why a new file cannot be written: it inherited an ACL from its directory and setfacl is missing. */
export function inheritedAclNotRemovable(): string {
  return 'the new file inherited an ACL from its directory that cannot be removed: setfacl is missing; install the package "acl"';
}

function info(users: UserDb, type: OldFileType, mode: number, uid: number, gid: number): FileInfo {
  return {
    type,
    mode: type === "symlink" ? 0o777 : mode,
    user: users.users.byId.get(uid) ?? null,
    uid,
    group: users.groups.byId.get(gid) ?? null,
    gid,
  };
}

/** Whether a diff of this change may show old content: only when others may read old and new. */
function diffable(old: FileInfo, wanted: FileInfo): boolean {
  return (old.mode & 0o004) !== 0 && (wanted.mode & 0o004) !== 0;
}

/**
 * The state a directory is held in while its subtree is synced: access that
 * both the old and the new state give, and where the owner or group changes
 * hands, the helper's own (so neither the old nor the new owner controls it
 * while the entries below are not final). Sticky is kept when either has it:
 * without it others may delete. Where the group changes hands, its members
 * count as others in between.
 */
export function middleState(
  old: DirState,
  wanted: DirState,
  self: { uid: number; gid: number },
): DirState {
  const uidChanges = old.uid !== wanted.uid;
  const gidChanges = old.gid !== wanted.gid;
  let mode = (old.mode & wanted.mode & 0o6777) | ((old.mode | wanted.mode) & 0o1000);
  if (gidChanges) {
    // Members of the old or the new group count as others in between: they
    // get no more than their group bits before and after allow.
    const groups = ((old.mode & wanted.mode) >> 3) & 0o7;
    mode = (mode & ~0o077) | (mode & groups);
  }
  return {
    mode,
    uid: uidChanges ? self.uid : old.uid,
    gid: gidChanges ? self.gid : old.gid,
  };
}

function sameState(a: DirState, b: DirState): boolean {
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
}

class Planner {
  readonly actions: Action[] = [];
  readonly changes: FileChange[] = [];
  readonly order: number[] = [];
  readonly oldData: Buffer[] = [];
  private oldLength = 0;
  readonly errors: string[] = [];
  readonly deferred: FileEntry[] = [];
  readonly takeovers: Takeover[] = [];
  readonly warnings: string[] = [];
  readonly waiting: { index: number; change: FileChange }[] = [];
  /** How many directories being taken over the walk is below. */
  private belowTakeover = 0;

  constructor(readonly input: PlanInput) {}

  fail(path: string, message: string): void {
    this.errors.push(`${quote(path)}: ${message}`);
  }

  change(node: TreeNode, change: FileChange): number {
    this.changes.push(change);
    this.order.push(node.index);
    return this.changes.length - 1;
  }

  /** A change of an existing entry. */
  updated(node: TreeNode, old: FileInfo, wanted: FileInfo, contentChanged: boolean): number {
    return this.change(node, {
      path: node.path,
      created: false,
      old,
      new: wanted,
      content_changed: contentChanged,
    });
  }

  addOld(change: FileChange, content: Buffer): void {
    change.old_data_offset = this.oldLength;
    change.old_data_length = content.length;
    this.oldData.push(content);
    this.oldLength += content.length;
  }

  /**
   * Leaves `node` and everything below it for after the packages, and notes how each
   * would change, waiting for `owner` (reported by a dry-run, SPEC 5 step 4).
   */
  defer(node: TreeNode, owner: string): void {
    const entry = node.entry;
    if (entry !== null && entry.type !== "absent") {
      this.deferred.push(entry);
      const obs = this.input.observed.get(node.path);
      const { users } = this.input;
      const id = (map: UserDb["users"], o: Owner): [string | null, number] =>
        typeof o === "number" ? [map.byId.get(o) ?? null, o] : [o, map.byName.get(o) ?? UNKNOWN_ID];
      const [user, uid] = id(users.users, entry.user);
      const [group, gid] = id(users.groups, entry.group);
      const wanted: FileInfo = {
        type: entry.type,
        mode: entry.type === "symlink" ? 0o777 : entry.mode,
        user,
        uid,
        group,
        gid,
      };
      const old =
        obs?.state === "present" ? info(users, obs.type, obs.mode, obs.uid, obs.gid) : null;
      this.waiting.push({
        index: node.index,
        change: {
          path: node.path,
          created: old === null,
          old,
          new: wanted,
          content_changed:
            entry.type !== "dir" &&
            (obs?.state !== "present" || obs.type !== entry.type || !obs.sameContent),
          waits_for_owner: owner,
        },
      });
    }
    for (const child of node.children) this.defer(child, owner);
  }

  /** The wanted info, or null when the node was deferred or failed. */
  wanted(node: TreeNode, entry: FileEntry & { type: FileInfo["type"] }): FileInfo | null {
    const { users } = this.input;
    try {
      const user = resolveOwner(users.users, entry.user, "user");
      const group = resolveOwner(users.groups, entry.group, "group");
      return {
        type: entry.type,
        mode: entry.type === "symlink" ? 0o777 : entry.mode,
        user: user.name,
        uid: user.id,
        group: group.name,
        gid: group.id,
      };
    } catch (err) {
      if (!(err instanceof UnknownOwnerError)) throw err;
      if (this.input.deferUnknownOwners) this.defer(node, err.owner);
      else if (this.input.afterPackages === true) {
        this.fail(
          entry.path,
          `${err.message} even after the packages were installed: no package created it (a typo?)`,
        );
      } else this.fail(entry.path, err.message);
      return null;
    }
  }

  visit(node: TreeNode): void {
    const obs = this.input.observed.get(node.path) ?? { state: "absent" };
    if (obs.state === "error") {
      if (this.belowTakeover > 0 && this.input.lookAgain === true) return;
      return this.fail(firstEntry(node), obs.message);
    }
    const entry = node.entry;
    if (entry === null) return this.visitUnmanaged(node, obs);
    if (entry.type === "absent") return this.remove(node, obs);
    const wanted = this.wanted(node, { ...entry, type: entry.type });
    if (wanted === null) return;
    if (node.path === "/" && entry.type !== "dir")
      return this.fail("/", "the root must be a directory");
    if (entry.type !== "dir" && node.children.length > 0) {
      return this.fail(node.children[0].path, `${quote(node.path)} is not a directory`);
    }
    if (obs.state === "absent") return this.create(node, entry, wanted);
    const old = info(this.input.users, obs.type, obs.mode, obs.uid, obs.gid);
    if (entry.type === "dir") return this.syncDir(node, obs, old, wanted);
    this.syncLeaf(node, entry, obs, old, wanted);
  }

  /**
   * A path that must not exist (absent.yaml): a regular file, symlink or other
   * non-directory there is unlinked (never followed), an empty directory removed; a
   * non-empty directory is an error found here, before any change (SPEC 3.5).
   */
  private remove(node: TreeNode, obs: Present | { state: "absent" }): void {
    const { path } = node;
    if (node.children.length > 0) {
      return this.fail(node.children[0].path, `${quote(path)} is listed as absent`);
    }
    if (obs.state === "absent") return;
    if (obs.type === "dir" && obs.empty !== true) {
      return this.fail(path, "will not remove non-empty directory");
    }
    const old = info(this.input.users, obs.type, obs.mode, obs.uid, obs.gid);
    const change = this.change(node, {
      path,
      created: false,
      old,
      new: old,
      content_changed: false,
      removed: true,
    });
    this.actions.push({ op: obs.type === "dir" ? "rmdir" : "unlink", path, change });
  }

  /** A directory on the way that the request does not manage: it must be there (unless
   * only paths that must be absent lie below it: then nothing is there to remove). */
  private visitUnmanaged(node: TreeNode, obs: Observation): void {
    if (obs.state !== "present" || obs.type !== "dir") {
      if (onlyAbsent(node) && obs.state !== "error") return;
    }
    // Named after the first entry below, the path the user wrote.
    const where = firstEntry(node);
    if (obs.state === "absent") {
      return this.fail(where, `directory ${quote(node.path)} does not exist`);
    }
    if (obs.state === "present" && obs.type !== "dir") {
      return this.fail(
        where,
        obs.type === "symlink" ? SYMLINK_IN_PATH : `${quote(node.path)} is not a directory`,
      );
    }
    for (const child of node.children) this.visit(child);
  }

  private create(node: TreeNode, entry: FileEntry, wanted: FileInfo): void {
    const change = this.change(node, {
      path: node.path,
      created: true,
      old: null,
      new: wanted,
      content_changed: entry.type !== "dir",
    });
    this.put(node, entry, wanted, change);
  }

  /** Creates the entry where nothing is (any more): a directory with its subtree. */
  private put(node: TreeNode, entry: FileEntry, wanted: FileInfo, change: number): void {
    const { path } = node;
    if (entry.type === "file") {
      this.actions.push({ op: "write", path, change, ...ids(wanted), mode: wanted.mode });
    } else if (entry.type === "symlink") {
      this.actions.push({
        op: "symlink",
        path,
        change,
        target: entry.target ?? "",
        ...ids(wanted),
      });
    } else {
      this.actions.push({ op: "mkdir", path, change });
      for (const child of node.children) this.visit(child);
      this.actions.push({ op: "grant", path, change, ...ids(wanted), mode: wanted.mode });
    }
  }

  private syncDir(node: TreeNode, obs: Present, old: FileInfo, wanted: FileInfo): void {
    const { path } = node;
    if (obs.type !== "dir") {
      // A file, symlink or special file where a directory belongs: that single
      // entry goes (a symlink is never followed), then the directory is made.
      const change = this.updated(node, old, wanted, false);
      this.actions.push({ op: "unlink", path, change });
      return this.put(node, node.entry!, wanted, change);
    }
    const before: DirState = { mode: obs.mode, uid: obs.uid, gid: obs.gid };
    // One an interrupted sync left unfinished gets the mode and owner it was created for.
    if (node.entry?.keep === true && obs.unfinished !== true) return this.keepDir(node, obs);
    const after: DirState = { mode: wanted.mode, uid: wanted.uid, gid: wanted.gid };
    const { self } = this.input;
    const takeover =
      hostileDir({ ...before, acl: obs.acl }, self) && !hostileDir({ ...after, acl: false }, self);
    if (takeover) {
      // Planned from a look that another user could falsify: a real run takes it over first.
      this.takeovers.push({ path, change: this.changes.length, wanted: after });
    }
    if (sameState(before, after) && !obs.acl) return this.visitBelow(node, takeover);
    const change = this.updated(node, old, wanted, false);
    if (obs.acl) {
      if (!this.input.canRemoveAcl) return this.fail(path, aclNotRemovable());
      this.changes[change].acl_removed = true;
    }
    const middle = middleState(before, after, this.input.self);
    if (!sameState(middle, before)) this.actions.push({ op: "restrict", path, change, ...middle });
    if (obs.acl) this.actions.push({ op: "unacl", path, change, type: "dir", mode: middle.mode });
    this.visitBelow(node, takeover);
    if (!sameState(middle, after)) this.actions.push({ op: "grant", path, change, ...after });
  }

  /** The children of a directory that is there; `takenOver`: one the run takes over first. */
  private visitBelow(node: TreeNode, takenOver: boolean): void {
    if (takenOver) this.belowTakeover++;
    for (const child of node.children) this.visit(child);
    if (takenOver) this.belowTakeover--;
  }

  /**
   * An existing directory whose mode and owner are not declared (SPEC 3.5): it keeps
   * them, and its ACL. One that another user owns is walked as hostile ground (what is
   * created below it stays private until final, execute.ts), and the report says once
   * that this user can replace what is deployed below it.
   */
  private keepDir(node: TreeNode, obs: Present): void {
    const { self, users } = this.input;
    if (obs.uid !== 0 && obs.uid !== self.uid && node.children.length > 0) {
      const name = users.users.byId.get(obs.uid);
      const owner = name === undefined ? `uid ${obs.uid}` : `user ${quote(name)} (uid ${obs.uid})`;
      this.warnings.push(
        `${quote(node.path)} belongs to ${owner}, who can replace what safcm deploys below it; if it should not, declare its owner in permissions.yaml`,
      );
    }
    for (const child of node.children) this.visit(child);
  }

  private syncLeaf(
    node: TreeNode,
    entry: FileEntry,
    obs: Present,
    old: FileInfo,
    wanted: FileInfo,
  ): void {
    const { path } = node;
    if (obs.type === "dir") {
      const change = this.updated(node, old, wanted, true);
      // Only an empty directory is ever removed.
      if (obs.empty !== true) return this.fail(path, NON_EMPTY_DIR);
      this.actions.push({ op: "rmdir", path, change });
      return this.put(node, entry, wanted, change);
    }
    const sameType = obs.type === entry.type;
    const sameMeta =
      old.type === wanted.type &&
      old.mode === wanted.mode &&
      old.uid === wanted.uid &&
      old.gid === wanted.gid;
    if (sameType && obs.sameContent && sameMeta) {
      if (!obs.acl || obs.type !== "file") return;
      // Identical but for an ACL: removed in place.
      const change = this.change(node, {
        path,
        created: false,
        old,
        new: wanted,
        content_changed: false,
        acl_removed: true,
      });
      if (!this.input.canRemoveAcl) return this.fail(path, aclNotRemovable());
      this.actions.push({ op: "unacl", path, change, type: "file", mode: wanted.mode });
      return;
    }
    const changeInfo: FileChange = {
      path,
      created: false,
      old,
      new: wanted,
      content_changed: !sameType || !obs.sameContent,
    };
    if (changeInfo.content_changed) {
      if (obs.oldContent !== null && diffable(old, wanted)) this.addOld(changeInfo, obs.oldContent);
      if (obs.oldSize !== undefined) changeInfo.old_size = obs.oldSize;
    }
    // Rename over the old entry (file, symlink, FIFO, socket, device): the path never disappears.
    this.put(node, entry, wanted, this.change(node, changeInfo));
  }
}

/** Whether every entry in the subtree of `node` is one that must be absent. */
function onlyAbsent(node: TreeNode): boolean {
  if (node.entry !== null && node.entry.type !== "absent") return false;
  return node.children.every(onlyAbsent);
}

/** The path of the node's entry, or of the first entry below an unmanaged directory. */
function firstEntry(node: TreeNode): string {
  if (node.entry !== null) return node.path;
  for (const child of node.children) return firstEntry(child);
  return node.path;
}

function ids(wanted: FileInfo): { uid: number; gid: number } {
  return { uid: wanted.uid, gid: wanted.gid };
}

/**
 * Decides what to do: the actions in the order they must happen, the changes
 * they make (in request order), or errors and nothing else.
 */
export function planFiles(input: PlanInput): Plan {
  const planner = new Planner(input);
  planner.visit(input.root);
  if (planner.errors.length > 0) return emptyPlan(planner.errors);
  // Changes in request order (the walk is depth first; the request is sorted
  // by path, where "/a-b" comes before "/a/b"); actions refer to positions.
  const byRequest = planner.changes
    .map((_, i) => i)
    .sort((a, b) => planner.order[a] - planner.order[b]);
  const position = new Array<number>(byRequest.length);
  byRequest.forEach((from, to) => (position[from] = to));
  return {
    actions: planner.actions.map((a) => ({ ...a, change: position[a.change] })),
    changes: byRequest.map((i) => planner.changes[i]),
    oldData: reorderOld(planner, byRequest),
    errors: [],
    deferred: planner.deferred,
    takeovers: planner.takeovers.map((t) => ({ ...t, change: position[t.change] })),
    warnings: planner.warnings,
    waiting: planner.waiting.sort((a, b) => a.index - b.index).map((w) => w.change),
  };
}

/** A plan that changes nothing (with the errors that made it so). */
export function emptyPlan(errors: string[] = []): Plan {
  return {
    actions: [],
    changes: [],
    oldData: [],
    errors,
    deferred: [],
    takeovers: [],
    warnings: [],
    waiting: [],
  };
}

/** Old contents laid out in the order of the sorted changes, offsets rewritten. */
function reorderOld(planner: Planner, byRequest: number[]): Buffer[] {
  const all = Buffer.concat(planner.oldData);
  const out: Buffer[] = [];
  let offset = 0;
  for (const i of byRequest) {
    const change = planner.changes[i];
    if (change.old_data_offset === undefined) continue;
    const length = change.old_data_length ?? 0;
    out.push(all.subarray(change.old_data_offset, change.old_data_offset + length));
    change.old_data_offset = offset;
    offset += length;
  }
  return out;
}
