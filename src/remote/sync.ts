// One sync request, in the order of SPEC 5 step 4: files, packages, services,
// triggers, commands. The first error stops; everything done until then is
// in the response.

import { createHash } from "node:crypto";
import type { FileEntry, SyncRequest, SyncResponse } from "../protocol/messages.ts";
import { runCommands } from "./commands.ts";
import { syncFiles, type FilesResult } from "./files.ts";
import { clip, silent, type Log } from "./log.ts";
import { syncPackages } from "./packages.ts";
import { syncServices } from "./services.ts";
import type { UserDb } from "./users.ts";

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

/**
 * The files step. Without content in the request (only sizes and hashes), a
 * real run first compares everything (the same code as dry-run), asks for
 * the content of exactly the files it must write, then applies. A run that
 * finds nothing to change is done after the comparison.
 */
async function filesStep(
  request: SyncRequest,
  data: Buffer,
  log: Log,
  users: UserDb | undefined,
  fetchContent: FetchContent | undefined,
): Promise<FilesResult> {
  const input = { root: request.root, files: request.files, data, log, users };
  if (request.dry_run || fetchContent === undefined) {
    return syncFiles({ ...input, apply: !request.dry_run });
  }
  const plan = syncFiles({ ...input, apply: false, log: silent });
  if (plan.changes.length === 0) return plan;
  const byPath = new Map(request.files.map((f) => [f.path, f]));
  // A regular file is rewritten (temporary file, rename) for a change of its
  // mode or owner too, so every changed regular file needs its content.
  const needed = plan.changes
    .filter((c) => byPath.get(c.path)?.type === "file")
    .map((c) => c.path)
    .filter((path) => byPath.get(path)?.data_offset === undefined);
  if (needed.length === 0) return syncFiles({ ...input, apply: true });
  const content = await fetchContent(needed);
  return syncFiles({
    ...input,
    files: withContent(request.files, needed, content),
    data: content.data,
    apply: true,
  });
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

export async function handleSync(
  request: SyncRequest,
  data: Buffer,
  log: Log = silent,
  users?: UserDb,
  fetchContent?: FetchContent,
): Promise<SyncOutput> {
  const files = await filesStep(request, data, log, users, fetchContent);
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
  const packages = await syncPackages({
    root: request.root,
    packages: request.packages,
    apply,
    log,
  });
  response.packages = packages.changes;
  response.error = packages.error;
  if (response.error !== null) return finish(output);

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
    dry_run: request.dry_run,
    triggers: request.triggers,
    commands: request.commands,
    changes: files.changes,
    log,
  });
  response.commands = commands.results;
  response.error = commands.error;
  return finish(output);
}

function finish(output: SyncOutput): SyncOutput {
  if (output.response.error !== null) output.response.error = clip(output.response.error);
  return output;
}
