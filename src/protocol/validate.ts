// Validation of every message that arrives from a helper. The helper runs on a
// managed host, which is untrusted: a message either passes these checks
// exactly (known type, no extra fields, types and sizes in range) or the host
// fails. Hand-written so that the protocol folder has no dependencies.

import {
  LOG_LEVELS,
  MAX_DIFF_CONTENT,
  MAX_LOG_TEXT,
  MAX_OUTPUT,
  type CommandResult,
  type ContentRequest,
  type DetectResult,
  type ErrorMessage,
  type FileChange,
  type FileInfo,
  type InfoResponse,
  type KeepAlive,
  type LogLevel,
  type LogMessage,
  type PackageChange,
  type Response,
  type SyncResponse,
  type ServiceChange,
} from "./messages.ts";
import { checks } from "./check.ts";

export class ValidationError extends Error {
  override name = "ValidationError";
}

const MAX_NAME = 4096;
const MAX_ITEMS = 10_000_000;
const OLD_TYPES = ["file", "dir", "symlink", "fifo", "socket", "char", "block"] as const;

function fail(where: string, what: string): never {
  throw new ValidationError(`invalid message from helper: ${where}: ${what}`);
}

const { object, string, nullableString, integer, boolean, array, oneOf } = checks(fail, true);

const ID_MAX = 2 ** 32 - 1;

function fileInfo(v: unknown, where: string): FileInfo {
  const o = object<FileInfo>(v, where, ["type", "mode", "user", "uid", "group", "gid"]);
  return {
    type: oneOf(o.type, `${where}.type`, OLD_TYPES),
    mode: integer(o.mode, `${where}.mode`, 0, 0o7777),
    user: nullableString(o.user, `${where}.user`, MAX_NAME),
    uid: integer(o.uid, `${where}.uid`, 0, ID_MAX),
    group: nullableString(o.group, `${where}.group`, MAX_NAME),
    gid: integer(o.gid, `${where}.gid`, 0, ID_MAX),
  };
}

function fileChange(v: unknown, where: string, attachmentLength: number): FileChange {
  const o = object<FileChange>(
    v,
    where,
    ["path", "created", "old", "new", "content_changed"],
    ["old_data_offset", "old_data_length", "old_size", "acl_removed", "waits_for_owner", "removed"],
  );
  const change: FileChange = {
    path: string(o.path, `${where}.path`, MAX_NAME * 16),
    created: boolean(o.created, `${where}.created`),
    old: o.old === null ? null : fileInfo(o.old, `${where}.old`),
    new: fileInfo(o.new, `${where}.new`),
    content_changed: boolean(o.content_changed, `${where}.content_changed`),
  };
  if (o.waits_for_owner !== undefined) {
    change.waits_for_owner = string(o.waits_for_owner, `${where}.waits_for_owner`, MAX_NAME);
  }
  if (change.created !== (change.old === null)) fail(where, "created does not match old");
  if ((o.old_data_offset === undefined) !== (o.old_data_length === undefined)) {
    fail(where, "old_data_offset and old_data_length go together");
  }
  if (o.old_data_offset !== undefined) {
    const offset = integer(o.old_data_offset, `${where}.old_data_offset`, 0, attachmentLength);
    const length = integer(o.old_data_length, `${where}.old_data_length`, 0, MAX_DIFF_CONTENT);
    if (offset + length > attachmentLength) fail(where, "old data lies outside the attachment");
    change.old_data_offset = offset;
    change.old_data_length = length;
  }
  if (o.old_size !== undefined)
    change.old_size = integer(o.old_size, `${where}.old_size`, 0, Number.MAX_SAFE_INTEGER);
  if (o.acl_removed !== undefined) {
    if (o.acl_removed !== true) fail(`${where}.acl_removed`, "not true");
    if (change.old === null) fail(where, "acl_removed on a created entry");
    change.acl_removed = true;
  }
  if (o.removed !== undefined) {
    if (o.removed !== true) fail(`${where}.removed`, "not true");
    if (change.old === null) fail(where, "removed but nothing was there");
    change.removed = true;
  }
  return change;
}

function detectResult(v: unknown, where: string): DetectResult {
  const o = object<DetectResult>(v, where, ["command", "exit_code", "output", "stderr"]);
  return {
    command: string(o.command, `${where}.command`, MAX_OUTPUT),
    exit_code: integer(o.exit_code, `${where}.exit_code`, -1, 255),
    output: string(o.output, `${where}.output`, MAX_OUTPUT),
    stderr: string(o.stderr, `${where}.stderr`, MAX_OUTPUT),
  };
}

function serviceChange(v: unknown, where: string): ServiceChange {
  const o = object<ServiceChange>(v, where, ["name", "started", "enabled"]);
  return {
    name: string(o.name, `${where}.name`, MAX_NAME),
    started: boolean(o.started, `${where}.started`),
    enabled: boolean(o.enabled, `${where}.enabled`),
  };
}

function commandResult(v: unknown, where: string): CommandResult {
  const o = object<CommandResult>(v, where, ["command", "trigger", "exit_code", "output"]);
  return {
    command: string(o.command, `${where}.command`, MAX_OUTPUT),
    trigger: nullableString(o.trigger, `${where}.trigger`, MAX_NAME * 16),
    exit_code: o.exit_code === null ? null : integer(o.exit_code, `${where}.exit_code`, -1, 255),
    output: nullableString(o.output, `${where}.output`, MAX_OUTPUT + 1024),
  };
}

/**
 * Checks one message from the helper. `attachmentLength` is the size of the
 * frame's binary attachment, which offsets in the message must lie within.
 * Checks that need the request (paths that were sent) are the session's.
 */
export function validateResponse(header: unknown, attachmentLength: number): Response {
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("message", "not an object");
  }
  const type = (header as { type?: unknown }).type;
  switch (type) {
    case "log": {
      const o = object<LogMessage>(header, "log", ["type", "level", "text"]);
      return {
        type,
        level: oneOf<LogLevel>(o.level, "log.level", LOG_LEVELS),
        text: string(o.text, "log.text", MAX_LOG_TEXT),
      };
    }
    case "keepalive":
      object<KeepAlive>(header, "keepalive", ["type"]);
      return { type };
    case "error": {
      const o = object<ErrorMessage>(header, "error", ["type", "message"]);
      return { type, message: string(o.message, "error.message", MAX_LOG_TEXT) };
    }
    case "content_request": {
      const o = object<ContentRequest>(header, "content_request", ["type", "paths"]);
      return {
        type,
        paths: array(o.paths, "content_request.paths", MAX_ITEMS, (v, w) =>
          string(v, w, MAX_NAME * 16),
        ),
      };
    }
    case "info_response": {
      const o = object<InfoResponse>(header, "info_response", [
        "type",
        "version",
        "os",
        "arch",
        "node_version",
        "uid",
        "gid",
        "user",
        "group",
        "detect_groups",
      ]);
      return {
        type,
        version: integer(o.version, "info_response.version", 0, ID_MAX),
        os: string(o.os, "info_response.os", 256),
        arch: string(o.arch, "info_response.arch", 256),
        node_version: string(o.node_version, "info_response.node_version", 256),
        uid: integer(o.uid, "info_response.uid", 0, ID_MAX),
        gid: integer(o.gid, "info_response.gid", 0, ID_MAX),
        user: nullableString(o.user, "info_response.user", MAX_NAME),
        group: nullableString(o.group, "info_response.group", MAX_NAME),
        detect_groups: array(o.detect_groups, "info_response.detect_groups", 1000, detectResult),
      };
    }
    case "sync_response": {
      const o = object<SyncResponse>(header, "sync_response", [
        "type",
        "files",
        "packages",
        "services",
        "commands",
        "error",
      ]);
      return {
        type,
        files: array(o.files, "sync_response.files", MAX_ITEMS, (v, w) =>
          fileChange(v, w, attachmentLength),
        ),
        packages: array(o.packages, "sync_response.packages", MAX_ITEMS, (v, w) => ({
          name: string(object<PackageChange>(v, w, ["name"]).name, `${w}.name`, MAX_NAME),
        })),
        services: array(o.services, "sync_response.services", MAX_ITEMS, serviceChange),
        commands: array(o.commands, "sync_response.commands", MAX_ITEMS, commandResult),
        error: nullableString(o.error, "sync_response.error", MAX_LOG_TEXT),
      };
    }
    default:
      // Never String() a host's value: a deeply nested array would overflow the stack.
      fail(
        "message",
        `unknown type ${typeof type === "string" ? JSON.stringify(type.slice(0, 64)) : typeof type}`,
      );
  }
}
