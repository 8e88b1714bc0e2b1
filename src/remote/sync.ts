// One sync request, in the order of SPEC 5 step 4: files, packages, services,
// triggers, commands. The first error stops; everything done until then is
// in the response.

import type { SyncRequest, SyncResponse } from "../protocol/messages.ts";
import { StopError, stopRequested } from "./abort.ts";
import { runCommands } from "./commands.ts";
import { deferredFiles, filesStep, type FetchContent } from "./files.ts";
import { clip, silent, type Log } from "./log.ts";
import { syncPackages } from "./packages.ts";
import { openJournal, type StateDir } from "./pending.ts";
import { syncServices } from "./services.ts";
import { loadUserDb } from "./users.ts";

export type { FetchContent } from "./files.ts";

export interface SyncOutput {
  response: SyncResponse;
  /** The response frame's attachment (old contents for diffs). */
  attachment: Buffer[];
}

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
