import { resolve } from "node:path";
import { buildHost } from "../assemble/host-config.ts";
import type { BuiltHost, Origin } from "../assemble/host-config.ts";
import { withoutRecommends } from "../assemble/states.ts";
import { localWarnings } from "../config/group-dir.ts";
import { loadConfig } from "../config/load.ts";
import { resolveSecrets } from "../config/resolve-secrets.ts";
import { resolveTargets } from "../config/targets.ts";
import { ConfigError, HostError, formatProblem, type Problem } from "../errors.ts";
import { LOG_LEVELS } from "../protocol/messages.ts";
import { escape, quote } from "../report/escape.ts";
import { parseOptions } from "./options.ts";

/** Writes warnings about the configuration to standard error (never standard output, which
 * may carry a JSON report); they never change the exit status. */
export function printWarnings(warnings: string[]): void {
  for (const w of warnings) process.stderr.write(`safcm: warning: ${w}\n`);
}

/**
 * SPEC 4: builds every named host's configuration without connecting.
 * Detected groups are unknown here, so they count as not matching. Lists
 * every error and warning, then one summary line on standard output.
 */
export async function check(args: string[]): Promise<number> {
  const opts = parseOptions(args, "check");
  const errors: Omit<Problem, "code">[] = [];
  let warnings: string[] = [];
  let checked = 0;
  let level = opts.logLevel;
  const verbose: string[] = [];
  /** -l verbose: one line per host with packages that install without their Recommends. */
  const notes: string[] = [];
  try {
    const config = loadConfig(resolve(opts.dir));
    level ??= config.global.log_level;
    warnings = localWarnings(config.groupDirs.values());
    const hosts = opts.targets.length === 0 ? config.hosts : resolveTargets(config, opts.targets);
    await resolveSecrets(config, hosts);
    for (const host of hosts) {
      checked++;
      try {
        const built = buildHost(config, host, { detected: [], uid: 0, gid: 0 });
        verbose.push(...verboseLines(host.name, built));
        const bare = withoutRecommends(built.packages);
        if (bare.length > 0) {
          notes.push(
            `host "${host.name}": installed without their Recommends (recommends: true in packages.yaml installs them): ${bare.map((n) => JSON.stringify(n)).join(", ")}`,
          );
        }
      } catch (err) {
        if (!(err instanceof HostError)) throw err;
        errors.push({ message: `host "${host.name}": ${err.message}` });
      }
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    errors.push(...err.problems);
  }
  const info = LOG_LEVELS.indexOf(level ?? "info") >= LOG_LEVELS.indexOf("info");
  if (info) printWarnings(warnings);
  for (const e of errors) process.stderr.write(`safcm: ${formatProblem(e)}\n`);
  if (LOG_LEVELS.indexOf(level ?? "info") >= LOG_LEVELS.indexOf("verbose")) {
    for (const line of verbose) process.stdout.write(`${line}\n`);
    for (const n of notes) process.stdout.write(`${n}\n`);
  }
  if (info) {
    process.stdout.write(
      `${checked} host(s) checked: ${warnings.length} warning(s), ${errors.length} error(s)\n`,
    );
  }
  return errors.length > 0 ? 2 : 0;
}

/**
 * `check -l verbose` (SPEC 3.6, 3.5): per host, every path whose properties came from more
 * than one group, then the directories that keep the mode and owner they have on the host.
 */
function verboseLines(host: string, built: BuiltHost): string[] {
  const prefix = `[${escape(host)}] `;
  const lines = built.origins.map((o) => `${prefix}${quote(o.path)}: ${originText(o)}`);
  const kept = built.files.filter((f) => f.keep === true).map((f) => quote(f.path));
  if (kept.length > 0) {
    lines.push(
      `${prefix}directories that keep their mode and owner where they exist (no permissions.yaml entry): ${kept.join(", ")}`,
    );
  }
  return lines;
}

function originText(o: Origin): string {
  const group = (g: string) => `"${escape(g)}"`;
  if (o.absent === true) {
    const parts = [`absent from ${group(o.content)}`];
    if (o.triggers.length > 0) parts.push(`triggers from ${o.triggers.map(group).join(", ")}`);
    return parts.join(", ");
  }
  const parts = [`type and content from ${group(o.content)}`];
  if (o.mode !== undefined && o.mode === o.owner)
    parts.push(`mode and owner from ${group(o.mode)}`);
  else {
    parts.push(o.mode === undefined ? "mode by default" : `mode from ${group(o.mode)}`);
    parts.push(o.owner === undefined ? "owner by default" : `owner from ${group(o.owner)}`);
  }
  if (o.triggers.length > 0) parts.push(`triggers from ${o.triggers.map(group).join(", ")}`);
  return parts.join(", ");
}
