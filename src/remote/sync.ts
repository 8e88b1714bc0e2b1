// One sync request, in the order of SPEC 5 step 4: files, packages, services,
// triggers, commands. The first error stops; everything done until then is
// in the response.

import type { SyncRequest, SyncResponse } from "../protocol/messages.ts";
import { runCommands } from "./commands.ts";
import { syncFiles } from "./files.ts";
import { clip, silent, type Log } from "./log.ts";
import { syncPackages } from "./packages.ts";
import { syncServices } from "./services.ts";
import type { UserDb } from "./users.ts";

export interface SyncOutput {
  response: SyncResponse;
  /** The response frame's attachment (old contents for diffs). */
  attachment: Buffer[];
}

export async function handleSync(
  request: SyncRequest,
  data: Buffer,
  log: Log = silent,
  users?: UserDb,
): Promise<SyncOutput> {
  const files = syncFiles({
    root: request.root,
    files: request.files,
    data,
    apply: !request.dry_run,
    log,
    users,
  });
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
