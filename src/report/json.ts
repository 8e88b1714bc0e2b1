// The JSON report (SPEC 7.2). Strings from the host stay raw: JSON escaping
// makes them safe (JSON.stringify also escapes lone surrogates, so the output
// is always valid UTF-8 JSON).

import type { FileInfo } from "../protocol/messages.ts";
import type { FileResult, HostResult, SyncResult } from "../session/result.ts";
import { fileDiff } from "./diff.ts";
import { formatMode } from "./util-mode.ts";

/** One JSON object, pretty-printed, ending with a newline. */
export function jsonReport(result: SyncResult): string {
  return JSON.stringify({ dry_run: result.dry_run, hosts: result.hosts.map(host) }, null, 2) + "\n";
}

function host(h: HostResult): object {
  return {
    name: h.name,
    ok: h.ok,
    error: h.error,
    groups: h.groups,
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

function file(f: FileResult): object {
  return {
    path: f.path,
    created: f.created,
    old: f.old === null ? null : info(f.old),
    new: info(f.new),
    diff: fileDiff(f),
  };
}

function info(i: FileInfo): object {
  return {
    type: i.type,
    mode: formatMode(i.mode),
    user: i.user,
    uid: i.uid,
    group: i.group,
    gid: i.gid,
  };
}
