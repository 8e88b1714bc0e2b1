import { resolve } from "node:path";
import { buildHost } from "../build/host-config.ts";
import { loadConfig, type Config } from "../config/load.ts";
import { resolveTargets } from "../config/targets.ts";
import { ConfigError, HostError, formatProblem, type Problem } from "../errors.ts";
import { LOG_LEVELS } from "../protocol/messages.ts";
import { parseOptions } from "./options.ts";

/** The warnings the loader found, where it reports any (a `warnings` list on the Config). */
function loaderWarnings(config: Config): Problem[] {
  const warnings = (config as { warnings?: unknown }).warnings;
  return Array.isArray(warnings) ? (warnings as Problem[]) : [];
}

/**
 * SPEC 4: builds every named host's configuration without connecting.
 * Detected groups are unknown here, so they count as not matching. Lists
 * every error and warning, then one summary line on standard output.
 */
export function check(args: string[]): number {
  const opts = parseOptions(args, "check");
  const errors: Problem[] = [];
  let warnings: Problem[] = [];
  let checked = 0;
  let level = opts.logLevel;
  try {
    const config = loadConfig(resolve(opts.dir));
    level ??= config.global.log_level;
    warnings = loaderWarnings(config);
    const hosts = opts.targets.length === 0 ? config.hosts : resolveTargets(config, opts.targets);
    for (const host of hosts) {
      checked++;
      try {
        buildHost(config, host, { detected: [], uid: 0, gid: 0 });
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
  const lines = [
    ...(info ? warnings.map((w) => `safcm: warning: ${formatProblem(w)}`) : []),
    ...errors.map((e) => `safcm: ${formatProblem(e)}`),
  ];
  if (lines.length > 0) process.stderr.write(lines.join("\n") + "\n");
  if (info) {
    process.stdout.write(
      `${checked} host(s) checked, ${warnings.length} warning(s), ${errors.length} error(s)\n`,
    );
  }
  return errors.length > 0 ? 2 : 0;
}
