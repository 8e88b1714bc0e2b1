// Command-line targets: host and group names -> hosts (SPEC 4).

import { ConfigError } from "../errors.ts";
import type { Problem } from "../errors.ts";
import type { Config } from "./load.ts";
import { memberGroups } from "./groups.ts";
import { ALL, DETECTED_PREFIX } from "./names.ts";
import type { HostConfig } from "./types.ts";

/**
 * The hosts named by `names` (host names, group names, `all`), in hosts.yaml
 * order without duplicates. Detected groups cannot be targets: their members
 * are known only after connecting.
 * @throws ConfigError naming every unknown name.
 */
export function resolveTargets(config: Config, names: string[]): HostConfig[] {
  const problems: Problem[] = [];
  const wanted = new Set<string>();
  for (const name of names) {
    if (name === ALL) config.hosts.forEach((h) => wanted.add(h.name));
    else if (config.hosts.some((h) => h.name === name)) wanted.add(name);
    else if (config.groups.members.has(name)) {
      for (const h of config.hosts) {
        if (memberGroups(config.groups, h.name, []).includes(name)) wanted.add(h.name);
      }
    } else if (name.startsWith(DETECTED_PREFIX)) {
      problems.push({
        message: `"${name}" is a detected group: its members are known only after connecting, so it cannot be a target`,
      });
    } else {
      problems.push({ message: `unknown host or group "${name}"` });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config.hosts.filter((h) => wanted.has(h.name));
}
