import { resolve } from "node:path";
import { buildHost } from "../build/host-config.ts";
import { localWarnings } from "../config/group-dir.ts";
import { loadConfig } from "../config/load.ts";
import { resolveSecrets } from "../config/secrets.ts";
import { resolveTargets } from "../config/targets.ts";
import { ConfigError, HostError, type Problem } from "../errors.ts";
import { parseOptions } from "./options.ts";

/** Writes warnings about the configuration to standard error (never standard output, which
 * may carry a JSON report); they never change the exit status. */
export function printWarnings(warnings: string[]): void {
  for (const w of warnings) process.stderr.write(`safcm: warning: ${w}\n`);
}

/**
 * SPEC 4: builds every named host's configuration without connecting.
 * Detected groups are unknown here, so they count as not matching.
 */
export async function check(args: string[]): Promise<number> {
  const opts = parseOptions(args, ["dir", "log-level"]);
  let config;
  try {
    config = loadConfig(resolve(opts.dir));
  } catch (err) {
    if (err instanceof ConfigError) summary(0, 0, err.problems.length);
    throw err;
  }
  const warnings = localWarnings(config.groupDirs.values());
  printWarnings(warnings);
  const hosts = opts.targets.length === 0 ? config.hosts : resolveTargets(config, opts.targets);
  await resolveSecrets(config, hosts);
  const problems: Problem[] = [];
  for (const host of hosts) {
    try {
      buildHost(config, host, { detected: [], uid: 0, gid: 0 });
    } catch (err) {
      if (!(err instanceof HostError)) throw err;
      problems.push({ message: `host "${host.name}": ${err.message}` });
    }
  }
  summary(hosts.length, warnings.length, problems.length);
  if (problems.length > 0) throw new ConfigError(problems);
  return 0;
}

/** SPEC 4: check ends with one summary line (on standard output; the errors go to standard error). */
function summary(hosts: number, warnings: number, errors: number): void {
  process.stdout.write(`${hosts} host(s) checked: ${warnings} warning(s), ${errors} error(s)\n`);
}
