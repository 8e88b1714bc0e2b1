// The checks of the helper's replies against what was sent (only paths and items that were
// sent, each once; detect_groups results for the commands sent), and the host result they fill.

import type { BuiltHost } from "../assemble/host-config.ts";
import { DETECTED_PREFIX, isDetectedGroup } from "../config/names.ts";
import { HostError } from "../errors.ts";
import type { ContentMessage, DetectResult, SyncResponse } from "../protocol/messages.ts";
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

/** SPEC 3.4: every non-empty line, trimmed and lower-cased, is a group detected_<line>. */
export function detectedGroups(commands: string[], results: DetectResult[]): string[] {
  if (results.length !== commands.length || results.some((r, i) => r.command !== commands[i])) {
    throw new HostError("protocol error: detect_groups results do not match the commands sent");
  }
  const groups = new Set<string>();
  for (const r of results) {
    if (r.exit_code !== 0) {
      const output = (r.output + r.stderr).trim();
      throw new HostError(
        `detect_groups command "${r.command}" failed with exit status ${r.exit_code}${output === "" ? "" : `: ${output}`}`,
      );
    }
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
    file.diffHidden = diffHidden(
      { ...file, newContent: built.content.get(change.path) ?? null },
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
  result.packages = reply.packages.map((p) => p.name);
  result.services = reply.services;
  result.commands = reply.commands;
}

function checkSubset(reply: SyncResponse, built: BuiltHost): void {
  const packages = new Set(built.packages);
  const services = new Set(built.services);
  const commands = new Set([...built.commands, ...built.triggers.flatMap((t) => t.commands)]);
  const triggers = new Set(built.triggers.map((t) => t.path));
  const bad =
    reply.packages.find((p) => !packages.has(p.name))?.name ??
    reply.services.find((s) => !services.has(s.name))?.name ??
    reply.commands.find(
      (c) => !commands.has(c.command) || (c.trigger !== null && !triggers.has(c.trigger)),
    )?.command;
  if (bad !== undefined) {
    throw new HostError(`protocol error: helper reported an item that was not sent: "${bad}"`);
  }
}
