// The file engine (SPEC 5 step 4, 5.1, 6) as decide, then act: observe what
// is on the host (observe.ts), decide with a pure planner (plan.ts), carry
// out the plan with one actor (execute.ts). Dry-run runs the same code with
// apply=false, so it cannot drift from a real run; an error found while
// deciding changes nothing.

import { createHash } from "node:crypto";
import { closeSync } from "node:fs";
import type { FileChange, FileEntry, SyncRequest } from "../protocol/messages.ts";
import { AclProbe, canRemoveAcl } from "./acl.ts";
import { execute, takeOver, type TakeoverResult } from "./execute.ts";
import { quote, silent, type Log } from "./log.ts";
import { observe } from "./observe.ts";
import { emptyPlan, planFiles, type Action, type Plan } from "./plan.ts";
import { buildTree, type Observation, type TreeNode } from "./tree.ts";
import { describeError, openRoot } from "./safe-fs.ts";
import { plannedPaths, type PendingJournal } from "./pending.ts";
import { loadUserDb, type UserDb } from "./users.ts";

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
  /** Packages will be installed: entries whose owner does not exist yet wait for them. */
  deferUnknownOwners?: boolean;
  /** The entries that waited for the packages, now after them. */
  afterPackages?: boolean;
  /**
   * Called in a real run with the directories about to be taken over, before the first
   * of them (their triggers are recorded then, SPEC 5.7); an error it returns ends the
   * run before any change.
   */
  beforeTakeover?: (paths: string[]) => string | null;
}

export interface FilesResult {
  /** What changed (or would change), in request order; on error those begun, the failing one included. */
  changes: FileChange[];
  /** The response attachment: old contents that FileChange.old_data_offset/length point into. */
  oldData: Buffer[];
  /** The error that stopped the run, naming the path, or null. */
  error: string | null;
  /** Entries left for after the packages (their owner does not exist yet). */
  deferred: FileEntry[];
  /** How those entries would change, waiting for their owner (for a dry-run's report). */
  waiting?: FileChange[];
}

/** A plan for the host as it is now; `error` when it could not be made (nothing was changed,
 * but for the takeovers in `plan.applied`). */
export interface Decision {
  plan: Plan & { applied?: ReadonlySet<number> };
  /** What the plan was made from (acting checks it found the same directories). */
  observed: ReadonlyMap<string, Observation>;
  error: string | null;
}

function self(): { uid: number; gid: number } {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
}

/** Looks at everything below the open root and plans from that look. */
function lookAndPlan(
  input: FilesInput,
  tree: TreeNode,
  rootFd: number,
  users: UserDb,
): { plan: Plan; observed: Map<string, Observation> } {
  const log = input.log ?? silent;
  const acl = new AclProbe();
  const observed = observe({ rootFd, tree, data: input.data, clean: input.apply, log, acl });
  const anyAcl = [...observed.values()].some((o) => o.state === "present" && o.acl);
  if (!acl.available) {
    log("verbose", "cannot check for ACLs: neither GNU ls nor getfacl (package acl) is available");
  }
  const plan = planFiles({
    root: tree,
    observed,
    users,
    self: self(),
    deferUnknownOwners: input.deferUnknownOwners ?? false,
    afterPackages: input.afterPackages,
    canRemoveAcl: anyAcl && canRemoveAcl(),
    lookAgain: input.apply,
  });
  return { plan, observed };
}

/**
 * Looks at the host and decides. A real run (`apply`) also removes stale temporary files
 * from the directories it reads, and takes over first the directories that another user
 * could change under it (SPEC 6, hostile ground): those are made the helper's as planned,
 * their ACL checked again after the owner change, and then everything is looked at and
 * planned again, so that nothing below them is decided from a look that user could
 * falsify. The report keeps the first look's old state of the directories taken over.
 */
export function decideFiles(input: FilesInput): Decision {
  const nothing: Decision = { plan: emptyPlan(), observed: new Map(), error: null };
  const { root, problems } = buildTree(input.files);
  if (problems.length > 0) return { ...nothing, error: problems[0] };
  let rootFd: number;
  try {
    rootFd = openRoot(input.root);
  } catch (err) {
    return { ...nothing, error: describeError(err) };
  }
  const log = input.log ?? silent;
  try {
    const users = input.users ?? loadUserDb();
    const first = lookAndPlan(input, root, rootFd, users);
    if (first.plan.errors.length > 0 || !input.apply || first.plan.takeovers.length === 0) {
      return decided(first.plan, first.observed, log);
    }
    const refused = input.beforeTakeover?.(first.plan.takeovers.map((t) => t.path)) ?? null;
    if (refused !== null) return decided(emptyPlan([refused]), first.observed, log);
    const taken = takeOver(rootFd, first.plan.takeovers);
    const again = taken.error === null ? lookAndPlan(input, root, rootFd, users) : null;
    const error =
      taken.error ??
      again?.plan.errors[0] ??
      (again !== null && again.plan.takeovers.length > 0
        ? `${quote(again.plan.takeovers[0].path)}: changed by another user during the sync; sync again`
        : null);
    const plan = withTakeovers(first.plan, again?.plan ?? null, taken, input.files, error);
    return decided(plan, again?.observed ?? first.observed, log, error);
  } catch (err) {
    return { ...nothing, error: describeError(err) };
  } finally {
    closeSync(rootFd);
  }
}

function decided(
  plan: Decision["plan"],
  observed: ReadonlyMap<string, Observation>,
  log: Log,
  error: string | null = plan.errors[0] ?? null,
): Decision {
  for (const warning of plan.warnings) log("info", `warning: ${warning}`);
  return { plan, observed, error };
}

/**
 * The plan made after the takeovers (`second`), with the changes of the directories taken
 * over as the first look saw them (old state; ACL removed when either look or the
 * takeover found one), marked as applied. Changes stay in request order. With an error,
 * only the takeovers that were done remain.
 */
function withTakeovers(
  first: Plan,
  second: Plan | null,
  taken: TakeoverResult,
  files: readonly FileEntry[],
  error: string | null,
): Decision["plan"] {
  const order = new Map(files.map((f, i) => [f.path, i]));
  const done = first.takeovers.slice(0, taken.done);
  const takenPaths = new Set(done.map((t) => t.path));
  const base =
    error === null && second !== null ? second : emptyPlan(error === null ? [] : [error]);
  const merged: { change: FileChange; from: number; applied: boolean }[] = base.changes
    .map((change, from) => ({ change, from, applied: false }))
    .filter(({ change }) => !takenPaths.has(change.path));
  for (const t of done) {
    const change: FileChange = { ...first.changes[t.change] };
    if (taken.aclRemoved.has(t.path)) change.acl_removed = true;
    merged.push({ change, from: -1, applied: true });
  }
  merged.sort((a, b) => (order.get(a.change.path) ?? 0) - (order.get(b.change.path) ?? 0));
  const position = new Map<number, number>();
  merged.forEach((m, i) => position.set(m.from, i));
  // A directory taken over gets its final state from the second plan's actions, whose
  // change (old state: the helper's middle state) is replaced by the first look's.
  const changeOf = (action: Action): number => {
    const path = base.changes[action.change].path;
    return takenPaths.has(path)
      ? merged.findIndex((m) => m.change.path === path)
      : position.get(action.change)!;
  };
  return {
    ...base,
    actions: base.actions.map((a) => ({ ...a, change: changeOf(a) })),
    changes: merged.map((m) => m.change),
    errors: error === null ? [] : [error],
    takeovers: [],
    warnings: [...first.warnings],
    applied: new Set(merged.flatMap((m, i) => (m.applied ? [i] : []))),
  };
}

/** Carries out a decision (or reports it, when `apply` is false); `data` holds the content to write. */
export function applyDecision(input: FilesInput, decision: Decision): FilesResult {
  const { plan } = decision;
  const applied = plan.applied ?? new Set<number>();
  if (decision.error !== null) {
    const changes = plan.changes.filter((_, i) => applied.has(i));
    return { changes, oldData: [], error: decision.error, deferred: [] };
  }
  const log = input.log ?? silent;
  let rootFd: number;
  try {
    rootFd = openRoot(input.root);
  } catch (err) {
    return { changes: [], oldData: [], error: describeError(err), deferred: [] };
  }
  try {
    const result = execute({
      rootFd,
      actions: plan.actions,
      changes: plan.changes,
      entries: new Map(input.files.map((f) => [f.path, f])),
      data: input.data,
      apply: input.apply,
      log,
      observed: decision.observed,
    });
    const changes =
      result.error === null
        ? plan.changes
        : plan.changes.filter((_, i) => result.begun.has(i) || applied.has(i));
    return {
      changes,
      oldData: plan.oldData,
      error: result.error,
      deferred: plan.deferred,
      waiting: plan.waiting,
    };
  } finally {
    closeSync(rootFd);
  }
}

/**
 * Brings the files of a sync request into place (or compares only, when
 * `apply` is false): decide, then act. An error found while deciding changes
 * nothing; an error while acting stops, and what was begun is returned.
 */
export function syncFiles(input: FilesInput): FilesResult {
  return applyDecision(input, decideFiles(input));
}

/** Asks the local side for the content of these regular files (one round trip). */
export type FetchContent = (paths: string[]) => Promise<{
  files: { path: string; data_offset: number; data_length: number }[];
  data: Buffer;
}>;

/**
 * The files step. Without content in the request (only sizes and hashes), a
 * real run first decides (looking at the host), asks for the content of
 * exactly the files it must write (and of the files waiting for their owner,
 * written after the packages), then acts on that decision. A run that finds
 * nothing to change is done after deciding.
 */
export async function filesStep(
  request: SyncRequest,
  data: Buffer,
  {
    log,
    users,
    fetchContent,
    pending,
  }: { log: Log; users: UserDb; fetchContent?: FetchContent; pending: PendingJournal },
): Promise<{ result: FilesResult; files: FileEntry[]; data: Buffer }> {
  const input: FilesInput = {
    root: request.root,
    files: request.files,
    data,
    log,
    users,
    apply: !request.dry_run,
    deferUnknownOwners: request.packages.some((p) => p.state === "present"),
    // A takeover is a change too: its triggers are recorded before it.
    beforeTakeover: (paths) => pending.record(request.triggers, paths),
  };
  const decision = decideFiles(input);
  // Triggers that this plan fires are recorded before its first change (SPEC 3.5).
  if (input.apply && decision.error === null)
    decision.error = pending.record(request.triggers, plannedPaths(decision.plan));
  const byPath = new Map(request.files.map((f) => [f.path, f]));
  const written = new Set(decision.plan.actions.filter((a) => a.op === "write").map((a) => a.path));
  for (const entry of decision.plan.deferred) if (entry.type === "file") written.add(entry.path);
  const needed = [...written].filter((path) => byPath.get(path)?.data_offset === undefined);
  if (request.dry_run || fetchContent === undefined || needed.length === 0) {
    return { result: applyDecision(input, decision), files: request.files, data };
  }
  const content = await fetchContent(needed);
  const files = withContent(request.files, needed, content);
  const result = applyDecision({ ...input, files, data: content.data }, decision);
  return { result, files, data: content.data };
}

/** The entries with the content that arrived; each content must be the one that was announced. */
function withContent(
  entries: FileEntry[],
  needed: string[],
  content: Awaited<ReturnType<FetchContent>>,
): FileEntry[] {
  const ranges = new Map(content.files.map((f) => [f.path, f]));
  if (ranges.size !== needed.length || needed.some((p) => !ranges.has(p))) {
    throw new Error("the content received is not the content requested");
  }
  return entries.map((entry) => {
    const range = ranges.get(entry.path);
    if (range === undefined) return { ...entry, data_offset: undefined, data_length: undefined };
    const bytes = content.data.subarray(range.data_offset, range.data_offset + range.data_length);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (bytes.length !== entry.size || sha256 !== entry.sha256) {
      throw new Error(
        `content of ${JSON.stringify(entry.path)} does not match its announced SHA-256`,
      );
    }
    return { ...entry, data_offset: range.data_offset, data_length: range.data_length };
  });
}

/**
 * The files whose owner or group did not exist before the packages were
 * installed (a package may create its system user): decided and applied
 * now, with the user database read again (once). In dry-run the packages were
 * not installed, so they are only reported as waiting. Returns every file
 * change of the sync (both passes) with one attachment.
 */
export function deferredFiles(
  request: SyncRequest,
  step: { files: FileEntry[]; data: Buffer },
  first: FilesResult,
  log: Log,
): FilesResult {
  if (request.dry_run) {
    // Reported like every other change, marked as waiting for the owner (SPEC 5 step 4).
    const order = new Map(request.files.map((f, i) => [f.path, i]));
    const at = (c: FileChange) => order.get(c.path) ?? 0;
    const changes = [...first.changes, ...(first.waiting ?? [])].sort((a, b) => at(a) - at(b));
    return { ...first, changes };
  }
  const deferred = new Set(first.deferred.map((e) => e.path));
  const second = syncFiles({
    root: request.root,
    files: step.files.filter((f) => deferred.has(f.path)),
    data: step.data,
    log,
    users: loadUserDb(),
    apply: true,
    afterPackages: true,
  });
  const base = Buffer.concat(first.oldData).length;
  const later = second.changes.map((c) =>
    c.old_data_offset === undefined ? c : { ...c, old_data_offset: c.old_data_offset + base },
  );
  return {
    changes: [...first.changes, ...later],
    oldData: [...first.oldData, ...second.oldData],
    error: second.error,
    deferred: [],
  };
}
