// Validation of every message that arrives from a helper. The helper runs on a
// managed host, which is untrusted: a message either passes these checks
// exactly (known type, no extra fields, types and sizes in range) or the host
// fails. Hand-written so that the protocol folder has no dependencies.

import {
  BUILT_IN_FACTS,
  LOG_LEVELS,
  MAX_DIFF_CONTENT,
  MAX_LOG_TEXT,
  MAX_OUTPUT,
  type CommandResult,
  type ContentRequest,
  type DetectResult,
  type ErrorMessage,
  type Facts,
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
import { isIPv4, isIPv6 } from "node:net";
import { checks } from "./shape.ts";

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

/** Longest fact string (a host name is at most 64, an os-release value a word or two). */
const MAX_FACT = 1024;
/** Most addresses of one family: far more than any real host has. */
const MAX_ADDRESSES = 4096;
/** Control characters (C0, DEL, C1): no honest fact has one. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function factString(v: unknown, where: string): string {
  const s = string(v, where, MAX_FACT);
  if (CONTROL.test(s)) fail(where, "contains a control character");
  return s;
}

function address(v: unknown, where: string, family: 4 | 6): string {
  const s = string(v, where, 64);
  if (!(family === 4 ? isIPv4(s) : isIPv6(s))) fail(where, `not an IPv${family} address`);
  return s;
}

/** The built-in facts (SPEC 3.4): exact keys, bounded strings without control characters,
 * addresses that parse as such, counts in range. They end up in templates: nothing else. */
function facts(v: unknown, where: string): Facts {
  const o = object<Facts>(v, where, [...BUILT_IN_FACTS]);
  return {
    hostname: factString(o.hostname, `${where}.hostname`),
    os: factString(o.os, `${where}.os`),
    arch: factString(o.arch, `${where}.arch`),
    kernel: factString(o.kernel, `${where}.kernel`),
    os_id: factString(o.os_id, `${where}.os_id`),
    os_version_id: factString(o.os_version_id, `${where}.os_version_id`),
    os_codename: factString(o.os_codename, `${where}.os_codename`),
    os_like: factString(o.os_like, `${where}.os_like`),
    ipv4: array(o.ipv4, `${where}.ipv4`, MAX_ADDRESSES, (x, w) => address(x, w, 4)),
    ipv6: array(o.ipv6, `${where}.ipv6`, MAX_ADDRESSES, (x, w) => address(x, w, 6)),
    cpus: integer(o.cpus, `${where}.cpus`, 1, 1 << 20),
    memory_mib: integer(o.memory_mib, `${where}.memory_mib`, 0, 2 ** 40),
  };
}

function packageChange(v: unknown, where: string): PackageChange {
  const o = object<PackageChange>(v, where, ["name", "action"]);
  return {
    name: string(o.name, `${where}.name`, MAX_NAME),
    action: oneOf(o.action, `${where}.action`, PACKAGE_ACTIONS),
  };
}

const PACKAGE_ACTIONS = ["installed", "removed"] as const;

function serviceChange(v: unknown, where: string): ServiceChange {
  const o = object<ServiceChange>(v, where, [
    "name",
    "started",
    "stopped",
    "enabled",
    "disabled",
    "masked",
  ]);
  const change: ServiceChange = {
    name: string(o.name, `${where}.name`, MAX_NAME),
    started: boolean(o.started, `${where}.started`),
    stopped: boolean(o.stopped, `${where}.stopped`),
    enabled: boolean(o.enabled, `${where}.enabled`),
    disabled: boolean(o.disabled, `${where}.disabled`),
    masked: boolean(o.masked, `${where}.masked`),
  };
  if (change.started && (change.stopped || change.masked))
    fail(where, "started together with stopped or masked");
  if (change.enabled && (change.disabled || change.masked))
    fail(where, "enabled together with disabled or masked");
  return change;
}

function commandResult(v: unknown, where: string): CommandResult {
  const o = object<CommandResult>(
    v,
    where,
    ["command", "trigger", "exit_code", "output"],
    ["creates", "unless", "skipped", "pending"],
  );
  const result: CommandResult = {
    command: string(o.command, `${where}.command`, MAX_OUTPUT),
    trigger: nullableString(o.trigger, `${where}.trigger`, MAX_NAME * 16),
    exit_code: o.exit_code === null ? null : integer(o.exit_code, `${where}.exit_code`, -1, 255),
    output: nullableString(o.output, `${where}.output`, MAX_OUTPUT + 1024),
  };
  if (o.creates !== undefined)
    result.creates = string(o.creates, `${where}.creates`, MAX_NAME * 16);
  if (o.unless !== undefined) result.unless = string(o.unless, `${where}.unless`, MAX_OUTPUT);
  if (result.creates !== undefined && result.unless !== undefined)
    fail(where, "both creates and unless");
  if (o.skipped !== undefined) {
    result.skipped = oneOf(o.skipped, `${where}.skipped`, ["creates", "unless"] as const);
    if (result[result.skipped] === undefined) fail(where, `skipped by a guard it does not have`);
    if (result.exit_code !== null || result.output !== null)
      fail(where, "a skipped command has no exit_code or output");
  }
  if (o.pending !== undefined) {
    if (o.pending !== true) fail(`${where}.pending`, "not true");
    if (result.trigger === null) fail(where, "pending on a command that is no trigger");
    result.pending = true;
  }
  if (result.trigger !== null && (result.creates !== undefined || result.unless !== undefined))
    fail(where, "a trigger has no guard");
  return result;
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
        "detect_vars",
        "facts",
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
        detect_vars: array(o.detect_vars, "info_response.detect_vars", 1000, detectResult),
        facts: facts(o.facts, "info_response.facts"),
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
        packages: array(o.packages, "sync_response.packages", MAX_ITEMS, packageChange),
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
