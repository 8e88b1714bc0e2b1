// Small builders of report inputs for the tests in this folder.

import type {
  FileInfo,
  OldFileType,
  PackageChange,
  ServiceChange,
} from "../../src/protocol/messages.ts";
import type { FileResult, HostResult } from "../../src/session/result.ts";

export function info(type: OldFileType, mode: number, user: string | null, uid: number): FileInfo {
  return { type, mode, user, uid, group: user, gid: uid };
}

const ROOT_FILE = info("file", 0o644, "root", 0);

/** A changed regular file (content only, unless `over` says more). */
export function changed(
  oldContent: string | Buffer | null,
  newContent: string | Buffer,
  over: Partial<FileResult> = {},
): FileResult {
  const old = typeof oldContent === "string" ? Buffer.from(oldContent) : oldContent;
  return {
    path: "/etc/f",
    created: false,
    old: ROOT_FILE,
    new: ROOT_FILE,
    contentChanged: true,
    oldContent: old,
    oldSize: old?.length ?? null,
    newContent: typeof newContent === "string" ? Buffer.from(newContent) : newContent,
    diffHidden: null,
    removed: false,
    aclRemoved: false,
    waitsForOwner: null,
    ...over,
  };
}

export function created(path: string, content = "x\n"): FileResult {
  return {
    path,
    created: true,
    old: null,
    new: ROOT_FILE,
    contentChanged: true,
    oldContent: null,
    oldSize: null,
    newContent: Buffer.from(content),
    diffHidden: null,
    removed: false,
    aclRemoved: false,
    waitsForOwner: null,
  };
}

export function host(over: Partial<HostResult> = {}): HostResult {
  return {
    name: "web1",
    ok: true,
    error: null,
    stage: null,
    groups: ["all", "web1"],
    files: [],
    packages: [],
    services: [],
    commands: [],
    skipped: false,
    ...over,
  };
}

/** Numbered lines "1\n2\n...n\n". */
export function numbered(n: number): string {
  return Array.from({ length: n }, (_, i) => `${i + 1}\n`).join("");
}

export function installed(name: string): PackageChange {
  return { name, action: "installed" };
}

/** A service change: the flags named in `done` are true. */
export function service(
  name: string,
  ...done: (keyof Omit<ServiceChange, "name">)[]
): ServiceChange {
  const flag = (f: keyof Omit<ServiceChange, "name">) => done.includes(f);
  return {
    name,
    started: flag("started"),
    stopped: flag("stopped"),
    enabled: flag("enabled"),
    disabled: flag("disabled"),
    masked: flag("masked"),
  };
}
