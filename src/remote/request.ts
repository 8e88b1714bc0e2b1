// Shape checks of the requests the helper receives. The local side is
// trusted, but a malformed request must end in an ErrorMessage, not in a
// crash halfway through changing the host.

import {
  LOG_LEVELS,
  type LogLevel,
  type ContentMessage,
  type FileEntry,
  type InfoRequest,
  type Request,
  type SyncRequest,
  type TriggerEntry,
} from "../protocol/messages.ts";

export class RequestError extends Error {
  override name = "RequestError";
}

type Obj = Record<string, unknown>;

function fail(where: string, what: string): never {
  throw new RequestError(`invalid request: ${where}: ${what}`);
}

function object(v: unknown, where: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(where, "not an object");
  return v as Obj;
}

function string(v: unknown, where: string): string {
  if (typeof v !== "string") fail(where, "not a string");
  return v;
}

function integer(v: unknown, where: string, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max)
    fail(where, `not an integer in 0..${max}`);
  return v;
}

function strings(v: unknown, where: string): string[] {
  if (!Array.isArray(v)) fail(where, "not an array");
  return v.map((x, i) => string(x, `${where}[${i}]`));
}

function logLevel(v: unknown, where: string): LogLevel {
  const found = LOG_LEVELS.find((level) => level === v);
  if (found === undefined) fail(where, `not one of ${LOG_LEVELS.join(", ")}`);
  return found;
}

function owner(v: unknown, where: string): string | number {
  return typeof v === "number" ? integer(v, where, 2 ** 32 - 2) : string(v, where);
}

function fileEntry(v: unknown, where: string, attachmentLength: number): FileEntry {
  const o = object(v, where);
  const type = o.type;
  if (type !== "file" && type !== "dir" && type !== "symlink")
    fail(`${where}.type`, "not file, dir or symlink");
  const entry: FileEntry = {
    path: string(o.path, `${where}.path`),
    type,
    mode: integer(o.mode, `${where}.mode`, 0o7777),
    user: owner(o.user, `${where}.user`),
    group: owner(o.group, `${where}.group`),
  };
  if (!entry.path.startsWith("/")) fail(`${where}.path`, "not absolute");
  if (type === "symlink") entry.target = string(o.target, `${where}.target`);
  if (type === "file") {
    if (o.sha256 !== undefined || o.size !== undefined) {
      entry.size = integer(o.size, `${where}.size`, Number.MAX_SAFE_INTEGER);
      entry.sha256 = string(o.sha256, `${where}.sha256`);
      if (!/^[0-9a-f]{64}$/.test(entry.sha256)) fail(`${where}.sha256`, "not a SHA-256 in hex");
    }
    if (o.data_offset !== undefined || entry.sha256 === undefined) {
      Object.assign(entry, dataRange(o, where, attachmentLength));
    }
  }
  return entry;
}

function dataRange(
  o: Obj,
  where: string,
  attachmentLength: number,
): { data_offset: number; data_length: number } {
  const data_offset = integer(o.data_offset, `${where}.data_offset`, attachmentLength);
  const data_length = integer(
    o.data_length,
    `${where}.data_length`,
    attachmentLength - data_offset,
  );
  return { data_offset, data_length };
}

function trigger(v: unknown, where: string): TriggerEntry {
  const o = object(v, where);
  return {
    path: string(o.path, `${where}.path`),
    commands: strings(o.commands, `${where}.commands`),
  };
}

function array<T>(v: unknown, where: string, item: (x: unknown, w: string) => T): T[] {
  if (!Array.isArray(v)) fail(where, "not an array");
  return v.map((x, i) => item(x, `${where}[${i}]`));
}

/** Checks the header of a frame from the local side; `attachmentLength` bounds file content offsets. */
export function parseRequest(header: unknown, attachmentLength: number): Request {
  const o = object(header, "message");
  switch (o.type) {
    case "info_request": {
      const request: InfoRequest = {
        type: "info_request",
        version: integer(o.version, "info_request.version", 2 ** 32 - 1),
        detect_groups: strings(o.detect_groups, "info_request.detect_groups"),
        log_level: logLevel(o.log_level, "info_request.log_level"),
      };
      return request;
    }
    case "sync_request": {
      if (typeof o.dry_run !== "boolean") fail("sync_request.dry_run", "not a boolean");
      const request: SyncRequest = {
        type: "sync_request",
        dry_run: o.dry_run,
        log_level: logLevel(o.log_level, "sync_request.log_level"),
        root: string(o.root, "sync_request.root"),
        files: array(o.files, "sync_request.files", (v, w) => fileEntry(v, w, attachmentLength)),
        packages: strings(o.packages, "sync_request.packages"),
        services: strings(o.services, "sync_request.services"),
        triggers: array(o.triggers, "sync_request.triggers", trigger),
        commands: strings(o.commands, "sync_request.commands"),
      };
      if (!request.root.startsWith("/")) fail("sync_request.root", "not absolute");
      return request;
    }
    case "content": {
      const request: ContentMessage = {
        type: "content",
        files: array(o.files, "content.files", (v, w) => {
          const f = object(v, w);
          return { path: string(f.path, `${w}.path`), ...dataRange(f, w, attachmentLength) };
        }),
      };
      return request;
    }
    default:
      fail(
        "message",
        `unknown type ${typeof o.type === "string" ? JSON.stringify(o.type.slice(0, 64)) : typeof o.type}`,
      );
  }
}
