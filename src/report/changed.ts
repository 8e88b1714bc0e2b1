// What makes a host "changed" (SPEC 7.1): a file, package or service that
// changed, a trigger that ran, or a guarded command that ran. A plain command
// of commands.yaml runs every sync and so says nothing about the host: it is
// listed, and the summary counts the hosts where commands ran, but an
// unchanged fleet reads as unchanged. In dry-run the same rule applies to what
// would run; a command with `unless` counts there, since only running its
// guard could tell.

import type { CommandResult } from "../protocol/messages.ts";
import type { HostResult } from "../session/result.ts";

/** Whether a command ran (or in dry-run would run): not skipped by its guard. */
export function commandRan(c: CommandResult): boolean {
  return c.skipped === undefined;
}

/** Whether a command's run is a change of the host: a trigger, or a guarded command. */
export function commandChanged(c: CommandResult): boolean {
  if (!commandRan(c)) return false;
  return c.trigger !== null || c.creates !== undefined || c.unless !== undefined;
}

/** Whether a host changed (or in dry-run would change) anything. */
export function hostChanged(host: HostResult): boolean {
  return (
    host.files.length > 0 ||
    host.packages.length > 0 ||
    host.services.length > 0 ||
    host.commands.some(commandChanged)
  );
}

/** Whether any command or trigger ran on the host (or would run, in dry-run). */
export function commandsRan(host: HostResult): boolean {
  return host.commands.some(commandRan);
}
