// The file engine (SPEC 5 step 4, 5.1, 6) as decide, then act: observe what
// is on the host (observe.ts), decide with a pure planner (plan.ts), carry
// out the plan with one actor (execute.ts). Dry-run runs the same code with
// apply=false, so it cannot drift from a real run; an error found while
// deciding changes nothing.

import { closeSync } from "node:fs";
import type { FileChange, FileEntry } from "../protocol/messages.ts";
import { AclProbe, canRemoveAcl } from "./acl.ts";
import { execute } from "./execute.ts";
import { silent, type Log } from "./log.ts";
import { observe } from "./observe.ts";
import { buildTree, planFiles, type Plan } from "./plan.ts";
import { describeError, openRoot } from "./safe-fs.ts";
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
}

/** A plan for the host as it is now; `error` when it could not be made (nothing was changed). */
export interface Decision {
  plan: Plan;
  error: string | null;
}

function self(): { uid: number; gid: number } {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
}

/**
 * Looks at the host and decides. A real run (`apply`) also removes stale
 * temporary files from the directories it reads.
 */
export function decideFiles(input: FilesInput): Decision {
  const empty: Plan = { actions: [], changes: [], oldData: [], errors: [], deferred: [] };
  const { root, problems } = buildTree(input.files);
  if (problems.length > 0) return { plan: empty, error: problems[0] };
  let rootFd: number;
  try {
    rootFd = openRoot(input.root);
  } catch (err) {
    return { plan: empty, error: describeError(err) };
  }
  try {
    const users = input.users ?? loadUserDb();
    const acl = new AclProbe();
    const observed = observe({
      rootFd,
      tree: root,
      data: input.data,
      clean: input.apply,
      log: input.log ?? silent,
      acl,
    });
    const anyAcl = [...observed.values()].some((o) => o.state === "present" && o.acl);
    if (!acl.available) {
      (input.log ?? silent)(
        "verbose",
        "cannot check for ACLs: neither GNU ls nor getfacl (package acl) is available",
      );
    }
    const plan = planFiles({
      root,
      observed,
      users,
      self: self(),
      deferUnknownOwners: input.deferUnknownOwners ?? false,
      canRemoveAcl: anyAcl && canRemoveAcl(),
    });
    return { plan, error: plan.errors[0] ?? null };
  } catch (err) {
    return { plan: empty, error: describeError(err) };
  } finally {
    closeSync(rootFd);
  }
}

/** Carries out a decision (or reports it, when `apply` is false); `data` holds the content to write. */
export function applyDecision(input: FilesInput, decision: Decision): FilesResult {
  const { plan } = decision;
  if (decision.error !== null) {
    return { changes: [], oldData: [], error: decision.error, deferred: [] };
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
    });
    const changes =
      result.error === null ? plan.changes : plan.changes.filter((_, i) => result.begun.has(i));
    return { changes, oldData: plan.oldData, error: result.error, deferred: plan.deferred };
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
