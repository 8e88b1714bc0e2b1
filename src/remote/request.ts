// Shape checks of the requests the helper receives. The local side is
// trusted, but a malformed request must end in an ErrorMessage, not in a
// crash halfway through changing the host.

import {
  LOG_LEVELS,
  PACKAGE_STATES,
  SERVICE_STATES,
  type LogLevel,
  type CommandEntry,
  type ContentMessage,
  type FileEntry,
  type InfoRequest,
  type PackageEntry,
  type Request,
  type ServiceEntry,
  type SyncRequest,
  type TriggerEntry,
} from "../protocol/messages.ts";
import { checks, type Fields } from "../protocol/shape.ts";

export class RequestError extends Error {
  override name = "RequestError";
}

function fail(where: string, what: string): never {
  throw new RequestError(`invalid request: ${where}: ${what}`);
}

// Not exact: the local side is trusted; the checks keep a malformed request from crashing.
const { object, string, integer, boolean, array, oneOf } = checks(fail, false);
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

function strings(v: unknown, where: string): string[] {
  return array(v, where, NO_LIMIT, string);
}

function logLevel(v: unknown, where: string): LogLevel {
  return oneOf(v, where, LOG_LEVELS, `not one of ${LOG_LEVELS.join(", ")}`);
}

function owner(v: unknown, where: string): string | number {
  return typeof v === "number" ? integer(v, where, 0, 2 ** 32 - 2) : string(v, where);
}

function fileEntry(v: unknown, where: string, attachmentLength: number): FileEntry {
  const o = object<FileEntry>(v, where, []);
  const type = o.type;
  if (type !== "file" && type !== "dir" && type !== "symlink" && type !== "absent")
    fail(`${where}.type`, "not file, dir, symlink or absent");
  const entry: FileEntry = {
    path: string(o.path, `${where}.path`),
    type,
    mode: integer(o.mode, `${where}.mode`, 0, 0o7777),
    user: owner(o.user, `${where}.user`),
    group: owner(o.group, `${where}.group`),
  };
  if (!entry.path.startsWith("/")) fail(`${where}.path`, "not absolute");
  if (type === "symlink") entry.target = string(o.target, `${where}.target`);
  if (o.keep !== undefined) {
    if (o.keep !== true || type !== "dir") fail(`${where}.keep`, "only true, on a directory");
    entry.keep = true;
  }
  if (type === "file") {
    if (o.sha256 !== undefined || o.size !== undefined) {
      entry.size = integer(o.size, `${where}.size`, 0, Number.MAX_SAFE_INTEGER);
      entry.sha256 = string(o.sha256, `${where}.sha256`);
      if (!/^[0-9a-f]{64}$/.test(entry.sha256)) fail(`${where}.sha256`, "not a SHA-256 in hex");
    }
    if (o.data_offset !== undefined || entry.sha256 === undefined) {
      Object.assign(entry, dataRange(o, where, attachmentLength));
    }
  }
  if (o.validate !== undefined) {
    if (type !== "file") fail(`${where}.validate`, "only on a regular file");
    entry.validate = string(o.validate, `${where}.validate`);
  }
  return entry;
}

type DataRange = Required<Pick<FileEntry, "data_offset" | "data_length">>;

function dataRange(o: Fields<DataRange>, where: string, attachmentLength: number): DataRange {
  const data_offset = integer(o.data_offset, `${where}.data_offset`, 0, attachmentLength);
  const data_length = integer(
    o.data_length,
    `${where}.data_length`,
    0,
    attachmentLength - data_offset,
  );
  return { data_offset, data_length };
}

function trigger(v: unknown, where: string): TriggerEntry {
  const o = object<TriggerEntry>(v, where, []);
  return {
    path: string(o.path, `${where}.path`),
    commands: strings(o.commands, `${where}.commands`),
  };
}

function commandEntry(v: unknown, where: string): CommandEntry {
  const o = object<CommandEntry>(v, where, ["run"]);
  const entry: CommandEntry = { run: string(o.run, `${where}.run`) };
  if (o.creates !== undefined) {
    entry.creates = string(o.creates, `${where}.creates`);
    if (!entry.creates.startsWith("/")) fail(`${where}.creates`, "not absolute");
  }
  if (o.unless !== undefined) entry.unless = string(o.unless, `${where}.unless`);
  if (entry.creates !== undefined && entry.unless !== undefined)
    fail(where, "both creates and unless");
  return entry;
}

function packageEntry(v: unknown, where: string): PackageEntry {
  const o = object<PackageEntry>(v, where, []);
  return {
    name: string(o.name, `${where}.name`),
    state: oneOf(o.state, `${where}.state`, PACKAGE_STATES),
    recommends: boolean(o.recommends, `${where}.recommends`),
  };
}

function serviceEntry(v: unknown, where: string): ServiceEntry {
  const o = object<ServiceEntry>(v, where, []);
  return {
    name: string(o.name, `${where}.name`),
    state: oneOf(o.state, `${where}.state`, SERVICE_STATES),
    enabled: o.enabled === null ? null : boolean(o.enabled, `${where}.enabled`),
  };
}

/** Checks the header of a frame from the local side; `attachmentLength` bounds file content offsets. */
export function parseRequest(header: unknown, attachmentLength: number): Request {
  const o = object<
    { type: Request["type"] } & Omit<InfoRequest, "type"> &
      Omit<SyncRequest, "type"> &
      Omit<ContentMessage, "type">
  >(header, "message", []);
  switch (o.type) {
    case "info_request": {
      const request: InfoRequest = {
        type: "info_request",
        version: integer(o.version, "info_request.version", 0, 2 ** 32 - 1),
        detect_groups: strings(o.detect_groups, "info_request.detect_groups"),
        detect_vars:
          o.detect_vars === undefined ? [] : strings(o.detect_vars, "info_request.detect_vars"),
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
        files: array(o.files, "sync_request.files", NO_LIMIT, (v, w) =>
          fileEntry(v, w, attachmentLength),
        ),
        packages: array(o.packages, "sync_request.packages", NO_LIMIT, packageEntry),
        services: array(o.services, "sync_request.services", NO_LIMIT, serviceEntry),
        triggers: array(o.triggers, "sync_request.triggers", NO_LIMIT, trigger),
        commands: array(o.commands, "sync_request.commands", NO_LIMIT, commandEntry),
      };
      if (!request.root.startsWith("/")) fail("sync_request.root", "not absolute");
      return request;
    }
    case "content": {
      const request: ContentMessage = {
        type: "content",
        files: array(o.files, "content.files", NO_LIMIT, (v, w) => {
          const f = object<ContentMessage["files"][number]>(v, w, []);
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
