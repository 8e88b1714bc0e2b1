// The JSON report (SPEC 7.2). Strings from the host keep their value: JSON
// escaping makes them safe. JSON.stringify escapes C0 controls and lone
// surrogates itself; DEL, the C1 controls (U+009B is an 8-bit CSI), the line
// separators and the bidi overrides it leaves raw, so they are escaped here
// too: the report can be read on a terminal, and parses to the same values.

import type { FileInfo } from "../protocol/messages.ts";
import type { FileResult, HostResult, SyncResult } from "../session/result.ts";
import { fileDiff } from "./diff.ts";
import type { JsonFile, JsonFileInfo, JsonHost, JsonReport } from "./json-report.ts";
import { UNKNOWN_ID, formatMode } from "./util-mode.ts";

/** One JSON object, pretty-printed, ending with a newline. */
export function jsonReport(result: SyncResult): string {
  const report: JsonReport = { dry_run: result.dryRun, hosts: result.hosts.map(host) };
  const text = JSON.stringify(report, null, 2);
  // Only inside strings can these characters occur, and \uXXXX means the same there.
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) + "\n";
}

const UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function host(h: HostResult): JsonHost {
  return {
    name: h.name,
    ok: h.ok,
    error: h.error,
    groups: h.groups,
    runtime: h.runtime ?? null,
    files: h.files.map(file),
    packages: h.packages,
    services: h.services.map((s) => ({ name: s.name, started: s.started, enabled: s.enabled })),
    commands: h.commands.map((c) => ({
      command: c.command,
      trigger: c.trigger,
      exit_code: c.exit_code,
      output: c.output,
    })),
  };
}

function file(f: FileResult): JsonFile {
  return {
    path: f.path,
    created: f.created,
    removed: f.removed,
    old: f.old === null ? null : info(f.old),
    new: f.removed ? null : info(f.new),
    diff: fileDiff(f),
    diff_hidden: f.diffHidden,
    acl_removed: f.aclRemoved,
    ...(f.waitsForOwner === null ? {} : { waits_for_owner: f.waitsForOwner }),
  };
}

function info(i: FileInfo): JsonFileInfo {
  return {
    type: i.type,
    mode: formatMode(i.mode),
    user: i.user,
    uid: i.uid === UNKNOWN_ID ? null : i.uid,
    group: i.group,
    gid: i.gid === UNKNOWN_ID ? null : i.gid,
  };
}
