// One sync request, in the order of SPEC 5 step 4: files, packages, services,
// triggers, commands. The first error stops; everything done until then is
// in the response.

import { createHash } from "node:crypto";
import type { FileChange, FileEntry, SyncRequest, SyncResponse } from "../protocol/messages.ts";
import { StopError, stopRequested } from "./abort.ts";
import { runCommands } from "./commands.ts";
import {
  applyDecision,
  decideFiles,
  syncFiles,
  type FilesInput,
  type FilesResult,
} from "./files.ts";
import { clip, silent, type Log } from "./log.ts";
import { syncPackages } from "./packages.ts";
import { openJournal, plannedPaths, type PendingJournal, type StateDir } from "./pending.ts";
import { syncServices } from "./services.ts";
import { loadUserDb, type UserDb } from "./users.ts";

export interface SyncOutput {
  response: SyncResponse;
  /** The response frame's attachment (old contents for diffs). */
  attachment: Buffer[];
}

/** Asks the local side for the content of these regular files (one round trip). */
export type FetchContent = (paths: string[]) => Promise<{
  files: { path: string; data_offset: number; data_length: number }[];
  data: Buffer;
}>;

/** How handleSync talks to the rest of the helper; every field has a default. */
export interface HandleSyncOptions {
  /** Where log lines go. Default: nowhere. */
  log?: Log;
  /**
   * Asks the local side for the content of the files to write. Default: none; then the
   * request must carry the content of every file it writes (data_offset/data_length), as the
   * helper's unit tests do.
   */
  fetchContent?: FetchContent;
  /** Where the pending triggers are kept (SPEC 5.7): the helper's main gives hostStateDir().
   * Default: in memory only (the helper's unit tests). */
  stateDir?: StateDir | null;
}

/**
 * The files step. Without content in the request (only sizes and hashes), a
 * real run first decides (looking at the host), asks for the content of
 * exactly the files it must write (and of the files waiting for their owner,
 * written after the packages), then acts on that decision. A run that finds
 * nothing to change is done after deciding.
 */
async function filesStep(
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
function deferredFiles(
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

/**
 * Answers a sync request whose attachment is `data`. The host's user database
 * (/etc/passwd, /etc/group) is read once for the files, and once more after
 * the packages only when some entry waited for its owner.
 */
export async function handleSync(
  request: SyncRequest,
  data: Buffer,
  options: HandleSyncOptions = {},
): Promise<SyncOutput> {
  const log = options.log ?? silent;
  const users = loadUserDb();
  const pending = openJournal(request.root, options.stateDir, log, !request.dry_run);
  const step = await filesStep(request, data, { ...options, log, users, pending });
  const files = step.result;
  const response: SyncResponse = {
    type: "sync_response",
    files: files.changes,
    packages: [],
    services: [],
    commands: [],
    error: files.error,
  };
  const output = { response, attachment: files.oldData };
  if (response.error !== null) return finish(output);

  const apply = !request.dry_run;
  // Told to stop (SPEC 5.5): no further step starts (a running apt-get or systemctl finishes).
  const stopped = () => apply && stopRequested();
  if (stopped()) {
    response.error = STOPPED;
    return finish(output);
  }
  const packages = await syncPackages({
    root: request.root,
    packages: request.packages,
    apply,
    log,
  });
  response.packages = packages.changes;
  response.error = packages.error;
  if (response.error !== null) return finish(output);

  if (files.deferred.length > 0) {
    const later = deferredFiles(request, step, files, log);
    response.files = later.changes;
    output.attachment = later.oldData;
    response.error = later.error;
    if (response.error !== null) return finish(output);
  }

  if (stopped()) {
    response.error = STOPPED;
    return finish(output);
  }
  const services = await syncServices({
    root: request.root,
    services: request.services,
    apply,
    log,
  });
  response.services = services.changes;
  response.error = services.error;
  if (response.error !== null) return finish(output);

  // Triggers fire on file changes only (SPEC 3.5), then commands.yaml.

  const commands = await runCommands({
    root: request.root,
    apply,
    triggers: request.triggers,
    commands: request.commands,
    changes: response.files,
    pending,
    log,
  });
  response.commands = commands.results;
  response.error = commands.error;
  return finish(output);
}

const STOPPED = new StopError().message;

function finish(output: SyncOutput): SyncOutput {
  if (output.response.error !== null) output.response.error = clip(output.response.error);
  return output;
}
