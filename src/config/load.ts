// Loading a configuration directory (SPEC 3). Everything that can be checked
// without a host's detected groups is checked here, and every problem found is
// reported together in one ConfigError.

import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "../errors.ts";
import { loadGroupDir } from "./group-dir.ts";
import type { GroupDir } from "./group-dir.ts";
import { checkGroupOrder, defaultGlobal, loadGlobal } from "./global.ts";
import { emptyGroups, loadGroups } from "./groups.ts";
import type { Groups } from "./groups.ts";
import { loadHosts } from "./hosts.ts";
import { Ignore } from "./ignore.ts";
import { ALL, isDetectedGroup } from "./names.ts";
import type { GlobalConfig, HostConfig } from "./types.ts";
import { existsButUnreadable, statQuietly } from "./util-fs.ts";
import { Problems, YamlFile, errorText } from "./yaml.ts";

export interface Config {
  /** Absolute path of the configuration directory. */
  dir: string;
  global: GlobalConfig;
  /** In hosts.yaml order. */
  hosts: HostConfig[];
  groups: Groups;
  /** The group directories present, by group name. */
  groupDirs: Map<string, GroupDir>;
  /** Every group the configuration knows (all, hosts, groups.yaml, detected groups it
   * names anywhere), sorted: the keys of a template's `groups`. */
  knownGroups: string[];
}

/**
 * Reads and checks the configuration directory `dir`.
 * @throws ConfigError listing every problem found.
 */
export function loadConfig(dir: string): Config {
  const abs = path.resolve(dir);
  const problems = new Problems();
  let isDir: boolean;
  try {
    isDir = statSync(abs).isDirectory();
  } catch (err) {
    throw new ConfigError([
      { code: "unreadable", message: `configuration directory "${dir}": ${errorText(err)}` },
    ]);
  }
  if (!isDir) {
    throw new ConfigError([
      { code: "not-found", message: `configuration directory "${dir}" is not a directory` },
    ]);
  }

  let global = defaultGlobal();
  let configYaml: YamlFile | null = null;
  let groupOrder: ReturnType<typeof loadGlobal>["groupOrder"] = [];
  if (isFile(abs, "config.yaml")) {
    configYaml = YamlFile.read(abs, "config.yaml", problems);
    if (configYaml.ok) ({ global, groupOrder } = loadGlobal(configYaml, abs));
  }

  let hosts: HostConfig[] = [];
  let hostsOk = false;
  if (isFile(abs, "hosts.yaml")) {
    const yf = YamlFile.read(abs, "hosts.yaml", problems);
    if (yf.ok) ({ hosts, complete: hostsOk } = loadHosts(yf, abs, global));
  } else {
    throw new ConfigError([
      {
        code: "not-found",
        message: `no hosts.yaml in ${abs}: safcm works on a configuration directory with a hosts.yaml (run it there, or name the directory with -C DIR)`,
      },
    ]);
  }
  const hostNames = new Set(hosts.map((h) => h.name));

  let groups = emptyGroups();
  let groupsOk = true;
  if (isFile(abs, "groups.yaml")) {
    const yf = YamlFile.read(abs, "groups.yaml", problems);
    groupsOk = yf.ok;
    if (yf.ok) groups = loadGroups(yf, hostsOk ? hostNames : null);
  }
  if (configYaml?.ok === true && hostsOk && groupsOk) {
    checkGroupOrder(configYaml, groupOrder, groups, hostNames);
  }

  const groupDirs = new Map<string, GroupDir>();
  const ignore = new Ignore(global.ignore);
  let entries: string[] = [];
  try {
    entries = readdirSync(abs).sort();
  } catch (err) {
    problems.add(
      { file: "." },
      "unreadable",
      `cannot list the configuration directory: ${errorText(err)}`,
    );
  }
  for (const name of entries) {
    if (name.startsWith(".")) continue;
    if (statQuietly(path.join(abs, name))?.isDirectory() !== true) {
      continue; // README, ssh configuration, scripts ...
    }
    const known =
      name === ALL || hostNames.has(name) || groups.members.has(name) || isDetectedGroup(name);
    if (known) groupDirs.set(name, loadGroupDir(abs, name, problems, ignore));
    else if (hostsOk && groupsOk) {
      problems.add(
        { file: name },
        "unexpected-entry",
        `directory "${name}" is not named like a group, a host, "all" or detected_<name>: probably a typo in a group name`,
      );
    }
  }

  problems.throwIfAny();
  return {
    dir: abs,
    global,
    hosts,
    groups,
    groupDirs,
    knownGroups: knownGroups(global, hosts, groups, groupDirs),
  };
}

/** A regular file, or something that cannot be looked at (YamlFile.read then says why). */
function isFile(dir: string, name: string): boolean {
  const p = path.join(dir, name);
  return statQuietly(p)?.isFile() === true || existsButUnreadable(p);
}

function knownGroups(
  global: GlobalConfig,
  hosts: HostConfig[],
  groups: Groups,
  groupDirs: Map<string, GroupDir>,
): string[] {
  const names = new Set<string>([ALL, ...hosts.map((h) => h.name), ...groups.members.keys()]);
  const mentioned = [
    ...groupDirs.keys(),
    ...global.group_order,
    ...[...groups.members.values(), ...groups.removes.values()].flat(),
  ];
  for (const name of mentioned) if (isDetectedGroup(name)) names.add(name);
  return [...names].sort();
}
