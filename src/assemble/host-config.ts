// Building one host's configuration (SPEC 5 step 3): its groups, the merged
// files of their group directories with templates rendered, packages,
// services, triggers and commands. No I/O: everything was read by loadConfig,
// and the detected groups arrive as an argument, so `check` and `sync` share it.
// Hosts alike share one build and every content is hashed once (caches keyed by
// the Config and the content, invisible to callers).

import { createHash } from "node:crypto";
import { HostError } from "../errors.ts";
import type { Config } from "../config/load.ts";
import type { GroupDir, Template } from "../config/group-dir.ts";
import { memberGroups } from "../config/groups.ts";
import { ALL } from "../config/names.ts";
import { redactor, secretValues } from "../config/secrets.ts";
import type { HostConfig } from "../config/types.ts";
import type { FileEntry, InfoResponse, SyncRequest } from "../protocol/messages.ts";
import { mergeVars, templateContext } from "./context.ts";
import { pickWinner, prioritySort } from "./merge.ts";
import type { Candidate, Priority } from "./merge.ts";
import { mergePackages, mergeServices } from "./states.ts";
import { renderTemplate } from "./templates.ts";
import type { TemplateContext } from "./templates.ts";

/** What the host told about itself: the user and primary group the helper runs as (the
 * default owner), and its detected groups. */
export interface HostFacts extends Pick<InfoResponse, "uid" | "gid"> {
  /** Detected groups, already prefixed ("detected_debian") and validated. */
  detected: string[];
}

/**
 * One host's configuration: what the sync request carries (`files` sorted by path, parents
 * first, regular files with size and SHA-256 but no content; `triggers` sorted by path;
 * `commands` in priority order, lowest group first), plus what stays on this side.
 * `files`, `content` and `triggers` may be shared by several hosts: never modify them.
 */
export interface BuiltHost extends Pick<
  SyncRequest,
  "files" | "packages" | "services" | "triggers" | "commands"
> {
  /** Every group of the host (all, its own, groups.yaml, detected), sorted. */
  groups: string[];
  /** New content per path: file bytes, or the symlink's target bytes. */
  content: Map<string, Buffer>;
  /** Secret values (vars.yaml `!env`/`!command`, SPEC 3.5) this host's build may contain: never
   * reported, logged or shown in a diff (a file whose old or new content holds one has its diff
   * withheld, `diff_hidden: "secret"`). Every secret resolved in this run, not only the host's
   * own: old content on the host may hold the secret of another group just as well. */
  secrets: readonly string[];
}

/**
 * Builds the configuration of `host`.
 * @throws HostError for a priority conflict (of files or vars), an entry below another
 * group's file or symlink, a template error, or packages/services with a root other than "/".
 */
export function buildHost(config: Config, host: HostConfig, facts: HostFacts): BuiltHost {
  const groups = hostGroups(config, host.name, facts.detected);
  const priority: Priority = { host: host.name, groupOrder: config.global.group_order };
  const dirs = prioritySort(priority, groups)
    .map((g) => config.groupDirs.get(g))
    .filter((d): d is GroupDir => d !== undefined);

  const vars = mergeVars(priority, dirs);
  const secrets = secretValues(config);
  const redact = redactor(secrets);
  let context: TemplateContext | undefined;
  const render = (template: Template, group: string): Buffer => {
    context ??= templateContext(config, host.name, groups, facts.detected, vars);
    return renderTemplate(template, group, context, redact);
  };

  const packages = mergePackages(priority, dirs);
  const services = mergeServices(priority, dirs);
  checkRoot(
    host,
    packages.map((p) => p.name),
    services.map((s) => s.name),
  );

  // Without templates, the entries depend only on the group directories (in priority order,
  // the host's own one marked) and the default owner: hosts alike share one build.
  const key = dirs.every((d) => d.templates.size === 0)
    ? JSON.stringify([
        dirs.map((d) => (d.name === host.name ? `=${d.name}` : d.name)),
        facts.uid,
        facts.gid,
      ])
    : null;
  const shared = key === null ? undefined : builds(config).get(key);
  const entries = shared ?? buildEntries(dirs, priority, facts, render);
  if (key !== null && shared === undefined) remember(config, key, entries);
  return {
    groups,
    ...entries,
    packages,
    services,
    commands: dirs.flatMap((d) => d.commands),
    secrets,
  };
}

/** The part of a build that hosts with the same group directories and owner share. */
type Entries = Pick<BuiltHost, "files" | "content" | "triggers">;

/** How many distinct shared builds are kept (a fleet has few kinds of hosts). */
const SHARED_BUILDS = 16;
const sharedBuilds = new WeakMap<Config, Map<string, Entries>>();

function builds(config: Config): Map<string, Entries> {
  let map = sharedBuilds.get(config);
  if (map === undefined) {
    map = new Map();
    sharedBuilds.set(config, map);
  }
  return map;
}

function remember(config: Config, key: string, entries: Entries): void {
  const map = builds(config);
  if (map.size >= SHARED_BUILDS) map.delete(map.keys().next().value as string);
  map.set(key, entries);
}

/** The merged entries of the group directories `dirs` (in priority order). */
function buildEntries(
  dirs: readonly GroupDir[],
  priority: Priority,
  facts: HostFacts,
  render: (template: Template, group: string) => Buffer,
): Entries {
  const candidates = new Map<string, Candidate[]>();
  for (const dir of dirs) {
    for (const entry of dir.files.values()) {
      const perm = dir.permissions.get(entry.path);
      const template = dir.templates.get(entry.path);
      const candidate: Candidate = {
        group: dir.name,
        path: entry.path,
        type: entry.type,
        mode: perm?.mode ?? entry.mode,
        user: perm?.user ?? facts.uid,
        ownerGroup: perm?.group ?? facts.gid,
        content: template === undefined ? entry.content : render(template, dir.name),
        template: template !== undefined,
        triggers: dir.triggers.get(entry.path) ?? [],
      };
      if (entry.target !== undefined) candidate.target = entry.target;
      const list = candidates.get(entry.path);
      if (list === undefined) candidates.set(entry.path, [candidate]);
      else list.push(candidate);
    }
  }

  const winners = new Map<string, Candidate>();
  for (const [path, list] of candidates) {
    winners.set(path, list.length === 1 ? list[0] : pickWinner(priority, list));
  }
  const paths = [...winners.keys()].sort(byPath);

  const built: Entries = { files: [], content: new Map(), triggers: [] };
  for (const path of paths) {
    const c = winners.get(path);
    if (c === undefined) continue;
    checkParent(winners, c);
    const file: FileEntry = { path, type: c.type, mode: c.mode, user: c.user, group: c.ownerGroup };
    if (c.type === "symlink" && c.target !== undefined) file.target = c.target;
    if (c.type === "file") {
      file.size = c.content.length;
      file.sha256 = sha256(c.content);
    }
    if (c.type !== "dir") built.content.set(path, c.content);
    built.files.push(file);
    if (c.triggers.length > 0) built.triggers.push({ path, commands: c.triggers });
  }
  return built;
}

/** Content shared by many hosts (everything but templates) is hashed once. */
const hashes = new WeakMap<Buffer, string>();

function sha256(content: Buffer): string {
  let hash = hashes.get(content);
  if (hash === undefined) {
    hash = createHash("sha256").update(content).digest("hex");
    hashes.set(content, hash);
  }
  return hash;
}

/** All groups of a host, sorted: all, its own name, groups.yaml groups, detected groups. */
export function hostGroups(config: Config, host: string, detected: readonly string[]): string[] {
  const groups = new Set([ALL, host, ...memberGroups(config.groups, host, detected), ...detected]);
  return [...groups].sort(byPath);
}

/** The entry of a path must lie in a directory: a group's file or symlink that won
 * over another group's directory cannot have that group's children below it. */
function checkParent(winners: Map<string, Candidate>, c: Candidate): void {
  if (c.path === "/") return;
  const parentPath = c.path.slice(0, c.path.lastIndexOf("/")) || "/";
  const parent = winners.get(parentPath);
  if (parent === undefined || parent.type === "dir") return;
  throw new HostError(
    `"${c.path}" of group "${c.group}" lies below "${parentPath}", which is a ${parent.type} of group "${parent.group}"` +
      ` (group "${parent.group}" has the higher priority); change the type in one of the groups`,
  );
}

/** Packages and services act on the host itself, never below a root (SPEC 3.2); refusing
 * here fails the host before anything is sent (the helper refuses again). */
function checkRoot(host: HostConfig, packages: string[], services: string[]): void {
  if (host.root === "/") return;
  for (const [what, names, file] of [
    ["packages", packages, "packages.yaml"],
    ["services", services, "services.yaml"],
  ] as const) {
    if (names.length === 0) continue;
    throw new HostError(
      `${what} need root "/", but host "${host.name}" has root ${JSON.stringify(host.root)}; ` +
        `remove ${file} from its groups (its ${what}: ${names.map((n) => JSON.stringify(n)).join(", ")})`,
    );
  }
}

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
