import { resolve } from "node:path";
import { buildHost } from "../build/host-config.ts";
import { loadConfig } from "../config/load.ts";
import { resolveSecrets } from "../config/secrets.ts";
import { resolveTargets } from "../config/targets.ts";
import { ConfigError, HostError, type Problem } from "../errors.ts";
import { parseOptions } from "./options.ts";

/**
 * SPEC 4: builds every named host's configuration without connecting.
 * Detected groups are unknown here, so they count as not matching.
 */
export async function check(args: string[]): Promise<number> {
  const opts = parseOptions(args, ["dir", "log-level"]);
  const config = loadConfig(resolve(opts.dir));
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
  if (problems.length > 0) throw new ConfigError(problems);
  return 0;
}
