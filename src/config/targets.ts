// Command-line targets: host and group names -> hosts (SPEC 4).

import { ConfigError } from "../errors.ts";
import type { Problem } from "../errors.ts";
import type { Config } from "./load.ts";
import { memberGroups } from "./groups.ts";
import { ALL, DETECTED_PREFIX, isDetectedGroup } from "./names.ts";
import type { HostConfig } from "./types.ts";

/**
 * The hosts named by `names` (host names, group names, `all`), in hosts.yaml
 * order without duplicates. A detected group, or a group whose members
 * depend on detected groups, names every host: which of them really belong
 * is known only after connecting, where the session checks isTarget().
 * @throws ConfigError naming every unknown name.
 */
export function resolveTargets(config: Config, names: string[]): HostConfig[] {
  const wanted = new Set(rolloutOrder(config, names));
  return config.hosts.filter((h) => wanted.has(h));
}

/**
 * The same hosts as resolveTargets, in the order of a rollout in batches (SPEC 4 --batch):
 * those of the first name on the command line, sorted by name, then those of the second
 * that are not already there, and so on. So `safcm sync --batch 1 canary webservers` starts
 * with the canary.
 * @throws ConfigError naming every unknown name.
 */
export function rolloutOrder(config: Config, names: string[]): HostConfig[] {
  const problems: Problem[] = [];
  const sorted = [...config.hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const order = new Set<HostConfig>();
  for (const name of names) {
    let named: HostConfig[];
    if (name === ALL) named = sorted;
    else if (config.hosts.some((h) => h.name === name))
      named = sorted.filter((h) => h.name === name);
    else if (config.groups.members.has(name)) {
      named = dependsOnDetection(config, name)
        ? sorted
        : sorted.filter((h) => memberGroups(config.groups, h.name, []).includes(name));
    } else if (isDetectedGroup(name)) {
      named = sorted;
    } else {
      problems.push({ code: "unknown-name", message: `unknown host or group "${name}"` });
      continue;
    }
    named.forEach((h) => order.add(h));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return [...order];
}

/** Whether a host with these groups (detected ones included) is one of the targets `names`. */
export function isTarget(
  names: readonly string[],
  host: string,
  groups: readonly string[],
): boolean {
  return names.some((n) => n === ALL || n === host || groups.includes(n));
}

const dependentCache = new WeakMap<Config, ReadonlySet<string>>();

/**
 * The groups of groups.yaml whose members (transitively, _remove included) involve a detected
 * group. One pass over the group graph, cached per configuration (a template context asks for
 * every group: a walk per group would be quadratic in a long chain of groups).
 */
function detectionDependent(config: Config): ReadonlySet<string> {
  const cached = dependentCache.get(config);
  if (cached !== undefined) return cached;
  const usedBy = new Map<string, string[]>(); // group -> groups that name it
  const dependent = new Set<string>();
  const stack: string[] = [];
  for (const [g, list] of [...config.groups.members, ...config.groups.removes]) {
    for (const m of list) {
      if (m.startsWith(DETECTED_PREFIX)) {
        if (!dependent.has(g)) stack.push(g);
        dependent.add(g);
      } else if (config.groups.members.has(m)) {
        const users = usedBy.get(m);
        if (users === undefined) usedBy.set(m, [g]);
        else users.push(g);
      }
    }
  }
  for (let g = stack.pop(); g !== undefined; g = stack.pop()) {
    for (const user of usedBy.get(g) ?? []) {
      if (!dependent.has(user)) {
        dependent.add(user);
        stack.push(user);
      }
    }
  }
  dependentCache.set(config, dependent);
  return dependent;
}

/** Whether the members of `group` (transitively, _remove included) involve a detected group. */
export function dependsOnDetection(config: Config, group: string): boolean {
  return detectionDependent(config).has(group);
}
