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
import { secretValues } from "../config/resolve-secrets.ts";
import { redactor } from "../config/secrets.ts";
import type { HostConfig } from "../config/types.ts";
import type { FileEntry, InfoResponse, SyncRequest } from "../protocol/messages.ts";
import { mergeVars, templateContext } from "./context.ts";
import { comparePriority, conflictError, prioritySort, resolvePath, winnerOf } from "./merge.ts";
import type { Declared, Priority, Provided, Resolved, Triggered } from "./merge.ts";
import { mergePackages, mergeServices } from "./states.ts";
import { renderTemplate } from "./templates.ts";
import type { FactValues, TemplateContext } from "./templates.ts";
import { validateCommands, validateFor } from "./validate-commands.ts";

/** What the host told about itself: the user and primary group the helper runs as (the
 * default owner), and its detected groups. */
export interface HostFacts extends Pick<InfoResponse, "uid" | "gid"> {
  /** Detected groups, already prefixed ("detected_debian") and validated. */
  detected: string[];
  /** What templates see as `facts` (SPEC 3.4); absent in `safcm check`: placeholders. */
  facts?: FactValues;
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
  /** The paths whose properties came from more than one group (SPEC 3.6), by path. */
  origins: Origin[];
  /** New content per path: file bytes, or the symlink's target bytes. */
  content: Map<string, Buffer>;
  /** Paths whose template read a secret variable, by any path (SPEC 5.1: the diff is withheld,
   * whatever the content looks like: a filter can hide a secret from a substring search). */
  secretTemplates: ReadonlySet<string>;
  /** Secret values (vars.yaml `!env`/`!command`, SPEC 3.5) this host's build may contain: never
   * reported, logged or shown in a diff (a file whose old or new content holds one has its diff
   * withheld, `diff_hidden: "secret"`). Every secret resolved in this run, not only the host's
   * own: old content on the host may hold the secret of another group just as well. */
  secrets: readonly string[];
}

/** Where the properties of one path came from (the groups, never values). */
export interface Origin {
  path: string;
  /** The group whose copy in files/ gave type and content (the highest of identical copies),
   * or, with `absent`, the highest group whose absent.yaml names the path. */
  content: string;
  /** The path must be absent (absent.yaml won over the groups that provide it). */
  absent?: true;
  /** The group whose permissions.yaml gave the mode / owner; absent: the default. */
  mode?: string;
  owner?: string;
  /** The groups whose triggers.yaml has commands for the path, lowest priority first. */
  triggers: string[];
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
  /** Rendered content of templates that read a secret. */
  const readSecret = new WeakSet<Buffer>();
  const render = (template: Template, group: string): Buffer => {
    context ??= templateContext(config, host.name, groups, facts.detected, vars, facts.facts);
    const rendered = renderTemplate(template, group, context, redact);
    if (rendered.readSecret) readSecret.add(rendered.content);
    return rendered.content;
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
    // Only a build that rendered a template can hold one (a shared build renders none).
    secretTemplates: context === undefined ? NONE : secretTemplates(entries.content, readSecret),
    secrets,
  };
}

const NONE: ReadonlySet<string> = new Set();

/** The paths whose winning content a template rendered while reading a secret. */
function secretTemplates(content: Map<string, Buffer>, readSecret: WeakSet<Buffer>): Set<string> {
  const paths = new Set<string>();
  for (const [path, c] of content) if (readSecret.has(c)) paths.add(path);
  return paths;
}

/** The part of a build that hosts with the same group directories and owner share. */
type Entries = Pick<BuiltHost, "files" | "content" | "triggers" | "origins">;

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

/** The merged entries of the group directories `dirs` (in priority order), each
 * property of a path resolved on its own (SPEC 3.6). */
function buildEntries(
  dirs: readonly GroupDir[],
  priority: Priority,
  facts: HostFacts,
  render: (template: Template, group: string) => Buffer,
): Entries {
  const provided = new Map<string, Provided[]>();
  for (const dir of dirs) {
    for (const entry of dir.files.values()) {
      const template = dir.templates.get(entry.path);
      const copy: Provided = {
        group: dir.name,
        path: entry.path,
        type: entry.type,
        mode: entry.mode,
        content: template === undefined ? entry.content : render(template, dir.name),
        template: template !== undefined,
      };
      if (entry.target !== undefined) copy.target = entry.target;
      const list = provided.get(entry.path);
      if (list === undefined) provided.set(entry.path, [copy]);
      else list.push(copy);
    }
  }

  const validate = validateCommands(dirs, priority);
  // absent.yaml: the groups that name a path absent (SPEC 3.5), lowest first.
  const absentBy = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const path of dir.absent) {
      const list = absentBy.get(path);
      if (list === undefined) absentBy.set(path, [dir.name]);
      else list.push(dir.name);
    }
  }

  // permissions.yaml and triggers.yaml name only paths of their own group's files/ (SPEC 3.5),
  // so every path they name is one of `provided`.
  const resolved = new Map<string, Resolved>();
  const absent = new Map<string, Absent>();
  for (const path of new Set([...provided.keys(), ...absentBy.keys()])) {
    const triggered: Triggered[] = [];
    for (const dir of dirs) {
      const commands = dir.triggers.get(path);
      if (commands !== undefined) triggered.push({ group: dir.name, commands });
    }
    // Absence is a type (SPEC 3.6): it takes part in the priorities like one.
    const gone = resolveAbsence(priority, path, provided.get(path) ?? [], absentBy.get(path) ?? []);
    if (gone !== undefined) {
      absent.set(path, { ...gone, triggered });
      continue;
    }
    const copies = provided.get(path) ?? [];
    const declared: Declared[] = [];
    for (const dir of dirs) {
      const permission = dir.permissions.get(path);
      if (permission !== undefined) declared.push({ group: dir.name, permission });
    }
    resolved.set(path, resolvePath(priority, path, copies, declared, triggered));
  }
  const paths = [...resolved.keys(), ...absent.keys()].sort(byPath);
  checkAbsent(resolved, absent);

  const built: Entries = { files: [], content: new Map(), triggers: [], origins: [] };
  for (const path of paths) {
    const a = absent.get(path);
    if (a !== undefined) {
      // mode, user and group mean nothing for an absent entry (src/protocol/messages.ts).
      built.files.push({ path, type: "absent", mode: 0, user: 0, group: 0 });
      const triggers = [...new Set(a.triggered.flatMap((t) => t.commands))];
      if (triggers.length > 0) built.triggers.push({ path, commands: triggers });
      const groups = new Set([a.group, ...a.over, ...a.triggered.map((t) => t.group)]);
      if (groups.size > 1) {
        built.origins.push({
          path,
          content: a.group,
          absent: true,
          triggers: a.triggered.filter((t) => t.commands.length > 0).map((t) => t.group),
        });
      }
      continue;
    }
    const r = resolved.get(path);
    if (r === undefined) continue;
    const c = r.provided;
    checkParent(resolved, c);
    const file: FileEntry = {
      path,
      type: c.type,
      mode: r.mode.value,
      user: r.owner?.user ?? facts.uid,
      group: r.owner?.group ?? facts.gid,
    };
    // SPEC 3.5: a directory no permissions.yaml names keeps the mode and owner it has on the
    // host; the defaults apply only when the sync creates it.
    if (c.type === "dir" && r.mode.group === null && r.owner === null) file.keep = true;
    if (c.type === "symlink" && c.target !== undefined) file.target = c.target;
    if (c.type === "file") {
      file.size = c.content.length;
      file.sha256 = sha256(c.content);
    }
    const command = validateFor(validate, c);
    if (command !== undefined) file.validate = command;
    if (c.type !== "dir") built.content.set(path, c.content);
    built.files.push(file);
    if (r.triggers.length > 0) built.triggers.push({ path, commands: r.triggers });
    const origin = originOf(priority, provided.get(path) ?? [], r);
    if (origin !== undefined) built.origins.push(origin);
  }
  return built;
}

/** Where a path's properties came from, when that is more than one group. */
function originOf(priority: Priority, copies: Provided[], r: Resolved): Origin | undefined {
  // Identical copies all give the same content: name the highest of them.
  let content = r.provided;
  for (const c of copies) {
    if (c.type !== content.type || !c.content.equals(content.content)) continue;
    if ((comparePriority(priority, c.group, content.group) ?? 0) > 0) content = c;
  }
  const origin: Origin = { path: content.path, content: content.group, triggers: r.triggerGroups };
  if (r.mode.group !== null) origin.mode = r.mode.group;
  if (r.owner !== null) origin.owner = r.owner.from;
  const groups = new Set([origin.content, ...origin.triggers]);
  if (origin.mode !== undefined) groups.add(origin.mode);
  if (origin.owner !== undefined) groups.add(origin.owner);
  return groups.size > 1 ? origin : undefined;
}

/** A path that must be absent: the highest group that says so, the groups whose copies it won
 * over, and the triggers of the path (SPEC 3.5: a removal fires them like any change). */
interface Absent {
  group: string;
  over: string[];
  triggered: Triggered[];
}

/**
 * Absence as a type (SPEC 3.6): among the groups that provide `path` in files/ and those that
 * name it in absent.yaml, the higher priority wins; two unordered groups, one of each, are a
 * conflict about the type. Undefined when the path is not absent (no group names it, or a
 * copy wins).
 * @throws HostError for such a conflict.
 */
function resolveAbsence(
  priority: Priority,
  path: string,
  copies: Provided[],
  absentGroups: string[],
): Pick<Absent, "group" | "over"> | undefined {
  if (absentGroups.length === 0) return undefined;
  const candidates: { group: string; type: string }[] = [
    ...copies.map((c) => ({ group: c.group, type: c.type })),
    ...absentGroups.map((group) => ({ group, type: "absent" })),
  ];
  const winner = winnerOf(
    priority,
    candidates,
    (a, b) => (a.type === "absent") === (b.type === "absent"),
    (a, b) =>
      conflictError(
        path,
        "type",
        { group: a.group, shown: a.type },
        { group: b.group, shown: b.type },
      ),
  );
  if (winner.type !== "absent") return undefined;
  const highest = absentGroups.reduce((h, g) =>
    (comparePriority(priority, g, h) ?? 0) > 0 ? g : h,
  );
  return { group: highest, over: copies.map((c) => c.group) };
}

/** An absent path cannot have entries below it: a lower group's directory filled with entries
 * that the absence won over, or another group's entry below a path named absent. */
function checkAbsent(resolved: Map<string, Resolved>, absent: Map<string, Absent>): void {
  if (absent.size === 0) return;
  for (const [path, a] of absent) {
    for (let above = parentOf(path); above !== null; above = parentOf(above)) {
      const c = resolved.get(above)?.provided;
      if (c !== undefined && c.type !== "dir") {
        throw new HostError(
          `"${path}" (absent.yaml of group "${a.group}") lies below "${above}", which is a ${c.type} of group "${c.group}"; ` +
            `nothing can be below a ${c.type}, so remove "${path}" from that absent.yaml`,
        );
      }
      const b = absent.get(above);
      if (b === undefined) continue;
      throw new HostError(
        `"${path}" (absent.yaml of group "${a.group}") lies below "${above}" (absent.yaml of group "${b.group}"); ` +
          `only an empty directory is removed, so name only "${above}"`,
      );
    }
  }
  for (const [path, r] of resolved) {
    for (let above = parentOf(path); above !== null; above = parentOf(above)) {
      const a = absent.get(above);
      if (a === undefined) continue;
      const over =
        a.over.length > 0 ? ` (over the directory of group "${a.over[a.over.length - 1]}")` : "";
      throw new HostError(
        `"${path}" of group "${r.provided.group}" lies below "${above}", which group "${a.group}" names in absent.yaml${over}; ` +
          `remove "${path}" from group "${r.provided.group}" or "${above}" from the absent.yaml of group "${a.group}"`,
      );
    }
  }
}

function parentOf(path: string): string | null {
  if (path === "/") return null;
  return path.slice(0, path.lastIndexOf("/")) || "/";
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
function checkParent(resolved: Map<string, Resolved>, c: Provided): void {
  if (c.path === "/") return;
  const parentPath = c.path.slice(0, c.path.lastIndexOf("/")) || "/";
  const parent = resolved.get(parentPath)?.provided;
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
