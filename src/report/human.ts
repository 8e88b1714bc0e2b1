// The human report (SPEC 7.1): per host only what changed, one line each,
// every line starting with the host's name. Every string from a HostResult
// goes through escape()/quote() before colours are added.

import type { FileInfo, LogLevel } from "../protocol/messages.ts";
import type { FileResult, HostResult, SyncResult } from "../session/result.ts";
import { commandRan, commandsRan, hostChanged } from "./changed.ts";
import { paint } from "./color.ts";
import { fileDiff } from "./diff.ts";
import { escape, quote } from "./escape.ts";
import { UNKNOWN_ID, formatMode as mode } from "./util-mode.ts";

export interface HostLinesOptions {
  dryRun: boolean;
  color: boolean;
  /** Also print hosts that changed nothing, and every host's groups. */
  verbose?: boolean;
}

/** Command output shown in the human report: the last lines up to these limits
 * (the JSON report keeps all of it). */
export const MAX_OUTPUT_LINES = 100;
export const MAX_OUTPUT_CHARS = 10 * 1024;

const INDENT = "   ";

/** What a service change shows, in this order: "started, enabled", "stopped, disabled", "masked". */
const SERVICE_FLAGS = ["started", "stopped", "enabled", "disabled", "masked"] as const;

/** The line that stands for a withheld diff (SPEC 5.1). */
const WITHHELD = {
  mode: "(diff withheld: the file is not readable by others)",
  secret: "(diff withheld: contains a secret)",
} as const;

export { hostChanged };

/** The report lines of one host (without line ends); none for an unchanged host. */
export function hostLines(host: HostResult, opts: HostLinesOptions): string[] {
  const prefix = `${paint(`[${escape(host.name)}]`, "cyan", opts.color)} `;
  const mark = opts.dryRun ? " (dry-run)" : "";
  const out: string[] = [];
  const add = (line: string): void => {
    out.push(prefix + line);
  };

  if (host.skipped) {
    // Never started (SPEC 4 --max-fail): nothing else to say about it.
    add(`skipped, ${escape(host.error ?? "not started")}`);
    return out;
  }
  // A host that failed before its groups were known (connecting, detecting) has none to name.
  if (opts.verbose === true && host.groups.length > 0) {
    add(`groups: ${host.groups.map(quote).join(", ")}`);
  }
  if (host.files.length > 0) {
    add(`changed ${host.files.length} file(s):${mark}`);
    for (const f of host.files) {
      const waits = f.waitsForOwner === null ? "" : ` (waits for ${quote(f.waitsForOwner)})`;
      add(`${quote(f.path)}: ${fileChanges(f, opts.color)}${waits}`);
      const diff = fileDiff(f);
      if (diff !== null) out.push(...diffLines(diff, opts.color));
      if (f.diffHidden !== null) out.push(INDENT + WITHHELD[f.diffHidden]);
    }
  }
  // In the order they happen on the host: removals first (SPEC 5.2).
  for (const action of ["removed", "installed"] as const) {
    const names = host.packages.filter((p) => p.action === action).map((p) => p.name);
    if (names.length === 0) continue;
    add(`${action} ${names.length} package(s):${mark}`);
    for (const name of names) add(quote(name));
  }
  if (host.services.length > 0) {
    add(`modified ${host.services.length} service(s):${mark}`);
    for (const s of host.services) {
      const what = SERVICE_FLAGS.filter((flag) => s[flag]);
      add(what.length > 0 ? `${quote(s.name)}: ${what.join(", ")}` : quote(s.name));
    }
  }
  const ran = host.commands.filter(commandRan);
  if (ran.length > 0) {
    add(`executed ${ran.length} command(s):${mark}`);
    for (const c of ran) {
      let line = quote(c.command);
      if (c.trigger !== null) {
        const pending = c.pending === true ? ", pending from an earlier sync" : "";
        line += ` (trigger for ${quote(c.trigger)}${pending})`;
      }
      if (c.creates !== undefined) line += ` (creates ${quote(c.creates)})`;
      if (c.unless !== undefined) line += ` (unless ${quote(c.unless)})`;
      if (c.exit_code !== null && c.exit_code !== 0) {
        line += paint(`: exit status ${c.exit_code}`, "red", opts.color);
      }
      add(line);
      if (c.output !== null) out.push(...outputLines(c.output));
    }
  }
  const skipped = host.commands.filter((c) => !commandRan(c));
  if (opts.verbose === true && skipped.length > 0) {
    add(`skipped ${skipped.length} command(s):${mark}`);
    for (const c of skipped) {
      const why =
        c.skipped === "creates"
          ? `${quote(c.creates ?? "")} exists`
          : `unless ${quote(c.unless ?? "")} exited 0`;
      add(`${quote(c.command)}: ${why}`);
    }
  }
  if (host.error !== null) {
    // Host errors may span lines (e.g. ssh's standard error); the first one
    // carries the "error:" label, the others are indented like output.
    const [first = "", ...rest] = host.error
      .trimEnd()
      .split("\n")
      .map((l) => escape(l.replace(/\r$/, "")));
    add(paint(`error: ${first}`, "red", opts.color));
    for (const l of rest) out.push(INDENT + paint(l, "red", opts.color));
  }
  if (opts.verbose === true && host.ok && !hostChanged(host)) add("unchanged");
  return out;
}

/** "created, file, root(0) root(0), 0644", "removed, file" or the changed properties,
 * e.g. "type file -> symlink, user a(1) -> b(2), permission 0600 -> 0644, content". */
function fileChanges(f: FileResult, color: boolean): string {
  const n = f.new;
  if (f.created || f.old === null) {
    const what = `created, ${escape(n.type)}, ${user(n)} ${group(n)}, ${mode(n.mode)}`;
    return paint(what, "green", color);
  }
  const o = f.old;
  if (f.removed) return paint(`removed, ${escape(o.type)}`, "red", color);
  const changes: string[] = [];
  if (o.type !== n.type) changes.push(`type ${escape(o.type)} -> ${escape(n.type)}`);
  if (o.uid !== n.uid || o.user !== n.user) changes.push(`user ${user(o)} -> ${user(n)}`);
  if (o.gid !== n.gid || o.group !== n.group) changes.push(`group ${group(o)} -> ${group(n)}`);
  if (o.mode !== n.mode) changes.push(`permission ${mode(o.mode)} -> ${mode(n.mode)}`);
  if (f.contentChanged) changes.push("content");
  if (f.aclRemoved) changes.push("ACL removed");
  // The helper reports only paths that differ; say so if nothing shows here.
  return changes.length > 0 ? changes.join(", ") : "changed";
}

/** Owner as "name(id)"; an id without a name in the user database as "id(id)", like ls. */
function owner(name: string | null, id: number): string {
  if (id === UNKNOWN_ID) return `${escape(name ?? "?")}(?)`;
  return `${escape(name ?? String(id))}(${id})`;
}
const user = (i: FileInfo): string => owner(i.user, i.uid);
const group = (i: FileInfo): string => owner(i.group, i.gid);

function diffLines(diff: string, color: boolean): string[] {
  return diff.split("\n").map((l) => {
    const e = escape(l);
    if (l.startsWith("+")) return INDENT + paint(e, "green", color);
    if (l.startsWith("-")) return INDENT + paint(e, "red", color);
    if (l.startsWith("@@")) return INDENT + paint(e, "cyan", color);
    return INDENT + e;
  });
}

/** The tail of a command's output, at most MAX_OUTPUT_LINES lines and
 * MAX_OUTPUT_CHARS characters, each line as "   > text". */
function outputLines(output: string): string[] {
  if (output === "") return [];
  const lines = output.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();

  let first = lines.length; // index of the first line shown
  let chars = 0;
  while (first > 0 && lines.length - first < MAX_OUTPUT_LINES) {
    const len = lines[first - 1].length + 1;
    if (chars + len > MAX_OUTPUT_CHARS) break;
    chars += len;
    first--;
  }
  const shown = lines.slice(first);
  let note: string | null = first > 0 ? `[... ${first} more line(s), see --json]` : null;
  if (shown.length === 0) {
    // One last line longer than the limit: show its end.
    const last = lines[lines.length - 1];
    let cut = last.length - MAX_OUTPUT_CHARS;
    if (/[\udc00-\udfff]/.test(last[cut] ?? "")) cut++; // keep a surrogate pair whole
    shown.push(last.slice(cut));
    note = `[... ${first - 1} more line(s) and ${cut} character(s), see --json]`;
  }
  const out = shown.map((l) => `${INDENT}> ${escape(l)}`);
  if (note !== null) out.unshift(`${INDENT}> ${note}`);
  return out;
}

/** "3 host(s): 1 changed, 1 unchanged, 1 failed"; a failed host counts only as failed; hosts
 * that a rollout in batches never started are added as ", 2 skipped". Plain commands do not
 * make a host changed (SPEC 7.1): where commands ran, the line ends with
 * "; commands ran on N host(s)". */
export function summaryLine(result: SyncResult): string {
  let changed = 0;
  let unchanged = 0;
  let failed = 0;
  let skipped = 0;
  let commands = 0;
  for (const h of result.hosts) {
    if (h.skipped) skipped++;
    else if (!h.ok) failed++;
    else if (hostChanged(h)) changed++;
    else unchanged++;
    if (commandsRan(h)) commands++;
  }
  const ran = result.dryRun ? "would run" : "ran";
  const mark = result.dryRun ? " (dry-run)" : "";
  const notStarted = skipped > 0 ? `, ${skipped} skipped` : "";
  const line = `${result.hosts.length} host(s): ${changed} changed, ${unchanged} unchanged, ${failed} failed${notStarted}`;
  return commands > 0 ? `${line}; commands ${ran} on ${commands} host(s)${mark}` : line + mark;
}

/** One host's part of the human report, each line ending with a newline: what `safcm sync`
 * writes when that host has finished; "" for a host with nothing to show (or skipped). */
export function hostText(host: HostResult, opts: HostLinesOptions): string {
  if (host.notTarget === true) return "";
  const lines = hostLines(host, opts);
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/** The human report's last part: the summary line and its newline. */
export function summaryText(result: SyncResult): string {
  return summaryLine(result) + "\n";
}

/** The whole human report, as `safcm sync` writes it (each host's part as it finishes, here in
 * the order of `result`, then the summary line); ends with a newline. */
export function humanReport(
  result: SyncResult,
  opts: { color: boolean; verbose?: boolean },
): string {
  const hosts = result.hosts.map((h) => hostText(h, { ...opts, dryRun: result.dryRun }));
  return hosts.join("") + summaryText(result);
}

/** A live log line from a host: "[web1] verbose: text"; each line of a
 * multi-line text gets the prefix. */
export function logLine(host: string, level: LogLevel, text: string, color: boolean): string {
  // The helper's warnings are info lines that start with "warning: " (shown as such).
  const warning = level === "info" && text.startsWith("warning: ");
  if (warning) text = text.slice("warning: ".length);
  const label =
    level === "error"
      ? paint("error:", "red", color)
      : warning
        ? paint("warning:", "yellow", color)
        : `${level}:`;
  const prefix = `${paint(`[${escape(host)}]`, "cyan", color)} ${label}`;
  return text
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => `${prefix} ${escape(l)}`)
    .join("\n");
}
