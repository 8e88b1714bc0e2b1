// config.yaml (SPEC 3.1).

import path from "node:path";
import type { Node } from "yaml";
import { LOG_LEVELS } from "../protocol/messages.ts";
import type { LogLevel } from "../protocol/messages.ts";
import type { Groups } from "./groups.ts";
import { ALL, isDetectedGroup } from "./names.ts";
import { runtime, sshUser } from "./hosts.ts";
import { DEFAULT_IGNORE, ignorePatterns } from "./ignore.ts";
import type { GlobalConfig } from "./types.ts";
import { statQuietly } from "./util-fs.ts";
import type { YamlFile } from "./yaml.ts";

const KEYS = [
  "dry_run",
  "log_level",
  "detect_groups",
  "detect_vars",
  "group_order",
  "ssh_config",
  "ssh_user",
  "sudo",
  "runtime",
  "ssh_persist",
  "ignore",
] as const;

/** Default seconds an OpenSSH master connection stays open after a sync (SPEC 3.1). */
export const DEFAULT_SSH_PERSIST = 60;

/** A week: longer is certainly a mistake (and OpenSSH's own limit is far above). */
const MAX_SSH_PERSIST = 7 * 24 * 3600;

export function defaultGlobal(): GlobalConfig {
  return {
    dry_run: false,
    log_level: "info",
    detect_groups: [],
    detect_vars: [],
    group_order: [],
    ssh_config: null,
    ssh_user: null,
    sudo: null,
    runtime: null,
    ssh_persist: DEFAULT_SSH_PERSIST,
    ignore: [...DEFAULT_IGNORE],
  };
}

export interface LoadedGlobal {
  global: GlobalConfig;
  /** group_order's items, checked by checkGroupOrder once the groups are known. */
  groupOrder: { value: string; node: Node }[];
}

/** Reads config.yaml; `dir` is the configuration directory (for ssh_config). */
export function loadGlobal(yf: YamlFile, dir: string): LoadedGlobal {
  const global = defaultGlobal();
  const result: LoadedGlobal = { global, groupOrder: [] };
  if (yf.isNull(yf.root)) return result;
  const entries = yf.map(yf.root, "config.yaml");
  if (entries === undefined) return result;
  yf.checkKeys(entries, KEYS, "config.yaml");
  for (const e of entries) {
    switch (e.key) {
      case "dry_run":
        global.dry_run = yf.bool(e.value, "dry_run") ?? false;
        break;
      case "log_level": {
        const level = yf.string(e.value, "log_level");
        if (level === undefined) break;
        if (isLogLevel(level)) global.log_level = level;
        else
          yf.error(
            e.value,
            "bad-value",
            `invalid log_level "${level}" (use ${LOG_LEVELS.join(", ")})`,
          );
        break;
      }
      case "detect_groups":
        global.detect_groups = (yf.stringList(e.value, "detect_groups") ?? []).map((c) => c.value);
        break;
      case "detect_vars":
        global.detect_vars = (yf.stringList(e.value, "detect_vars") ?? []).map((c) => c.value);
        break;
      case "group_order":
        result.groupOrder = yf.stringList(e.value, "group_order") ?? [];
        global.group_order = result.groupOrder.map((g) => g.value);
        break;
      case "ssh_config": {
        const file = yf.nonEmptyString(e.value, "ssh_config");
        if (file === undefined) break;
        const abs = path.resolve(dir, file);
        if (statQuietly(abs)?.isFile() !== true) {
          yf.error(e.value, "not-found", `ssh_config "${file}" is not a file (resolved to ${abs})`);
        }
        global.ssh_config = abs;
        break;
      }
      case "ssh_user":
        global.ssh_user = sshUser(yf, e.value, "ssh_user") ?? null;
        break;
      case "sudo":
        global.sudo = yf.bool(e.value, "sudo") ?? null;
        break;
      case "runtime":
        global.runtime = runtime(yf, e.value, "runtime") ?? null;
        break;
      case "ignore":
        global.ignore = ignorePatterns(yf, e.value);
        break;
      case "ssh_persist": {
        const v = yf.nonNegativeInt(e.value, "ssh_persist", MAX_SSH_PERSIST);
        if (v !== undefined) global.ssh_persist = v;
        break;
      }
    }
  }
  return result;
}

function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/** group_order may name groups of groups.yaml and detected groups, each once. */
export function checkGroupOrder(
  yf: YamlFile,
  items: { value: string; node: Node }[],
  groups: Groups,
  hostNames: ReadonlySet<string>,
): void {
  const seen = new Set<string>();
  for (const { value, node } of items) {
    if (seen.has(value))
      yf.error(node, "duplicate", `group "${value}" is listed twice in group_order`);
    seen.add(value);
    if (value === ALL) {
      yf.error(node, "bad-value", `"all" cannot be ordered: it is always below every other group`);
    } else if (hostNames.has(value)) {
      yf.error(
        node,
        "bad-value",
        `"${value}" is a host: its own group is always above every other group, it cannot be ordered`,
      );
    } else if (!groups.members.has(value) && !isDetectedGroup(value)) {
      yf.error(node, "unknown-name", `unknown group "${value}" in group_order`);
    }
  }
}
