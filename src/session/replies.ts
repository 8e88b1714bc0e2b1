// The checks of the helper's replies against what was sent (only paths and items that were
// sent, each once; detect_groups results for the commands sent), and the host result they fill.

import type { BuiltHost } from "../assemble/host-config.ts";
import { DETECTED_PREFIX, isDetectedGroup } from "../config/names.ts";
import { VAR_NAME } from "../config/vars.ts";
import { HostError } from "../errors.ts";
import type {
  CommandResult,
  ContentMessage,
  DetectResult,
  SyncResponse,
} from "../protocol/messages.ts";
import type { Reply } from "./connection.ts";
import { diffHidden, type FileResult, type HostResult } from "./result.ts";

export function expect<T extends Reply["type"]>(
  reply: Reply,
  type: T,
): Extract<Reply, { type: T }> {
  if (reply.type !== type) {
    throw new HostError(`protocol error: expected ${type}, got ${reply.type}`);
  }
  return reply as Extract<Reply, { type: T }>;
}

/** The results of detect_groups or detect_vars commands (`key`), checked against the commands
 * sent; a failed command is the host's error, with its output. */
function detectResults(key: string, commands: string[], results: DetectResult[]): DetectResult[] {
  if (results.length !== commands.length || results.some((r, i) => r.command !== commands[i])) {
    throw new HostError(`protocol error: ${key} results do not match the commands sent`);
  }
  for (const r of results) {
    if (r.exit_code !== 0) {
      const output = (r.output + r.stderr).trim();
      throw new HostError(
        `${key} command "${r.command}" failed with exit status ${r.exit_code}${output === "" ? "" : `: ${output}`}`,
      );
    }
  }
  return results;
}

/** SPEC 3.4: every non-empty line, trimmed and lower-cased, is a group detected_<line>. */
export function detectedGroups(commands: string[], results: DetectResult[]): string[] {
  const groups = new Set<string>();
  for (const r of detectResults("detect_groups", commands, results)) {
    for (const raw of r.output.split("\n")) {
      const line = raw.trim().toLowerCase();
      if (line === "") continue;
      if (!isDetectedGroup(DETECTED_PREFIX + line)) {
        throw new HostError(
          `detect_groups command "${r.command}" printed an invalid group name "${line}" (allowed: a-z, 0-9, _ and -)`,
        );
      }
      groups.add(DETECTED_PREFIX + line);
    }
  }
  return [...groups].sort();
}

/** How much of a bad detect_vars line an error shows. */
const SHOWN_LINE = 200;

/**
 * SPEC 3.4: every non-empty line of a detect_vars command, without surrounding white space, is
 * `name=value` (name as a vars.yaml name; the value is the rest of the line, possibly empty),
 * and adds facts.<name>. A malformed line, a name given twice (by one command or two) and a
 * built-in fact's name (`builtIn`) are errors that show the line (escaped by the report).
 */
export function detectedVars(
  commands: string[],
  results: DetectResult[],
  builtIn: readonly string[],
): Map<string, string> {
  const vars = new Map<string, string>();
  for (const r of detectResults("detect_vars", commands, results)) {
    for (const raw of r.output.split("\n")) {
      const line = raw.trim();
      if (line === "") continue;
      const shown = line.length > SHOWN_LINE ? `${line.slice(0, SHOWN_LINE)}...` : line;
      const eq = line.indexOf("=");
      const name = eq < 0 ? "" : line.slice(0, eq);
      const bad = (why: string) =>
        new HostError(`detect_vars command "${r.command}" printed ${why}: "${shown}"`);
      if (!VAR_NAME.test(name)) {
        throw bad(
          "a line that is not name=value (a name of a-z, 0-9 and _, not starting with a digit)",
        );
      }
      if (builtIn.includes(name)) throw bad(`the built-in fact "${name}"`);
      if (vars.has(name)) throw bad(`the fact "${name}" a second time`);
      vars.set(name, line.slice(eq + 1));
    }
  }
  return vars;
}

/** The Content message for a ContentRequest: only regular files that were sent, each once. */
export function contentFor(
  built: BuiltHost,
  paths: string[],
): { message: ContentMessage; attachment: Buffer[] } {
  const files = new Map(built.files.map((f) => [f.path, f]));
  const seen = new Set<string>();
  const message: ContentMessage = { type: "content", files: [] };
  const attachment: Buffer[] = [];
  let offset = 0;
  for (const path of paths) {
    const content = built.content.get(path);
    if (files.get(path)?.type !== "file" || content === undefined || seen.has(path)) {
      throw new HostError(
        `protocol error: helper asked for content that was not offered: "${path}"`,
      );
    }
    seen.add(path);
    message.files.push({ path, data_offset: offset, data_length: content.length });
    attachment.push(content);
    offset += content.length;
  }
  return { message, attachment };
}

/** Checks the response against the request (only paths and items that were sent) and fills the result. */
export function applyResponse(
  result: HostResult,
  built: BuiltHost,
  reply: Extract<Reply, { type: "sync_response" }>,
): void {
  const sent = new Map(built.files.map((f) => [f.path, f]));
  const seen = new Set<string>();
  const files: FileResult[] = [];
  for (const change of reply.files) {
    const entry = sent.get(change.path);
    if (entry === undefined || seen.has(change.path)) {
      throw new HostError(
        `protocol error: helper reported a path that was not sent: "${change.path}"`,
      );
    }
    seen.add(change.path);
    if ((change.removed === true) !== (entry.type === "absent")) {
      throw new HostError(
        `protocol error: helper reported "${change.path}" as ${change.removed === true ? "removed" : "changed"}, which is not what was sent`,
      );
    }
    const old =
      change.old_data_offset === undefined
        ? null
        : reply.attachment.subarray(
            change.old_data_offset,
            change.old_data_offset + (change.old_data_length ?? 0),
          );
    const file: FileResult = {
      path: change.path,
      created: change.created,
      old: change.old,
      new: change.new,
      contentChanged: change.content_changed,
      removed: change.removed === true,
      aclRemoved: change.acl_removed === true,
      waitsForOwner: change.waits_for_owner ?? null,
      oldContent: old === null ? null : Buffer.from(old),
      oldSize: change.old_size ?? (change.old !== null && old !== null ? old.length : null),
      newContent: change.content_changed ? (built.content.get(change.path) ?? null) : null,
      diffHidden: null,
    };
    // The one place that decides whether a diff is withheld (SPEC 5.1): a withheld diff's
    // contents are dropped here, so no report path can print them.
    // From what this side declared, not from the host's new.mode (SPEC 5.1).
    file.diffHidden = diffHidden(
      { ...file, newContent: built.content.get(change.path) ?? null },
      { mode: entry.mode, readSecret: built.secretTemplates.has(change.path) },
      built.secrets,
    );
    if (file.diffHidden !== null) {
      file.oldContent = null;
      file.newContent = null;
    }
    files.push(file);
  }
  result.files = files;
  checkSubset(reply, built);
  result.packages = reply.packages;
  result.services = reply.services;
  result.commands = reply.commands;
}

/** A package change must be what its entry asks for, each package once. */
function packageMismatch(reply: SyncResponse, built: BuiltHost): string | undefined {
  const sent = new Map(built.packages.map((p) => [p.name, p]));
  const seen = new Set<string>();
  for (const change of reply.packages) {
    const entry = sent.get(change.name);
    const wanted = entry?.state === "absent" ? "removed" : "installed";
    if (entry === undefined || seen.has(change.name) || change.action !== wanted) {
      return change.name;
    }
    seen.add(change.name);
  }
  return undefined;
}

/** A service change must lead towards its entry's state, each service once. */
function serviceMismatch(reply: SyncResponse, built: BuiltHost): string | undefined {
  const sent = new Map(built.services.map((s) => [s.name, s]));
  const seen = new Set<string>();
  for (const change of reply.services) {
    const entry = sent.get(change.name);
    if (entry === undefined || seen.has(change.name)) return change.name;
    seen.add(change.name);
    const enabled = entry.enabled ?? (entry.state === "started" ? true : null);
    const wrong =
      (change.started && entry.state !== "started") ||
      (change.stopped && entry.state === "started") ||
      (change.masked && entry.state !== "masked") ||
      (change.enabled && enabled !== true) ||
      (change.disabled && enabled !== false);
    if (wrong) return change.name;
  }
  return undefined;
}

function checkSubset(reply: SyncResponse, built: BuiltHost): void {
  // A command result names a command that was sent: a trigger's under its path, a
  // commands.yaml command with the guard it was sent with.
  const sentCommand = (c: CommandResult): boolean =>
    c.trigger === null
      ? built.commands.some(
          (e) => e.run === c.command && e.creates === c.creates && e.unless === c.unless,
        )
      : built.triggers.some((t) => t.path === c.trigger && t.commands.includes(c.command));
  const bad =
    packageMismatch(reply, built) ??
    serviceMismatch(reply, built) ??
    reply.commands.find((c) => !sentCommand(c))?.command;
  if (bad !== undefined) {
    throw new HostError(
      `protocol error: helper reported a change that was not asked for: "${bad}"`,
    );
  }
}
