// The JSON report (SPEC 7.2). Strings from the host keep their value: JSON
// escaping makes them safe. JSON.stringify escapes C0 controls and lone
// surrogates itself; DEL, the C1 controls (U+009B is an 8-bit CSI), the line
// separators and the format characters (bidi overrides, zero-width ones, tags)
// it leaves raw, so they are escaped here too: the report can be read on a
// terminal, and parses to the same values.

import type { FileInfo } from "../protocol/messages.ts";
import type { FileResult, HostResult, SyncResult } from "../session/result.ts";
import { hostChanged } from "./changed.ts";
import { fileDiff } from "./diff.ts";
import type { JsonFile, JsonFileInfo, JsonHost, JsonReport } from "./json-types.ts";
import { UNKNOWN_ID, formatMode } from "./util-mode.ts";

/** One JSON object, pretty-printed, ending with a newline. */
export function jsonReport(result: SyncResult): string {
  const report: JsonReport = { dry_run: result.dryRun, hosts: result.hosts.map(host) };
  const text = JSON.stringify(report, null, 2);
  // Only inside strings can these characters occur, and \uXXXX means the same there.
  return text.replace(UNSAFE, unicodeEscape) + "\n";
}

// C0 controls never stand raw in JSON.stringify output but its own newlines.
const UNSAFE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu;

/** `\uXXXX`, one per UTF-16 unit (an astral tag character becomes a pair). */
function unicodeEscape(c: string): string {
  let out = "";
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}

function host(h: HostResult): JsonHost {
  return {
    name: h.name,
    ok: h.ok,
    error: h.error,
    skipped: h.skipped,
    groups: h.groups,
    changed: hostChanged(h),
    runtime: h.runtime ?? null,
    files: h.files.map(file),
    packages: h.packages.map((p) => ({ name: p.name, action: p.action })),
    services: h.services.map((s) => ({
      name: s.name,
      started: s.started,
      stopped: s.stopped,
      enabled: s.enabled,
      disabled: s.disabled,
      masked: s.masked,
    })),
    commands: h.commands.map((c) => ({
      command: c.command,
      trigger: c.trigger,
      exit_code: c.exit_code,
      output: c.output,
      skipped: c.skipped ?? null,
      pending: c.pending === true,
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
