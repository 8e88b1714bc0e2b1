// One group directory (SPEC 3.5): the files/ tree and the per-group YAML files.
// Everything is read once here and shared by every host of the group.

import { lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import path from "node:path";
import { isMap, type Node } from "yaml";
import type { CommandEntry, FileType, PackageEntry, ServiceEntry } from "../protocol/messages.ts";
import type { Ignore } from "./ignore.ts";
import { liquid, liquidError } from "./liquid.ts";
import type { ParsedTemplate } from "./liquid.ts";
import { formatMode, parsePermission } from "./permissions.ts";
import type { Permission } from "./permissions.ts";
import type { Secret } from "./secrets.ts";
import { readPackages, readServices } from "./states.ts";
import { SECRET_TAGS, readVars } from "./vars.ts";
import type { Variable } from "./vars.ts";
import { YamlFile, errorText } from "./yaml.ts";
import type { Problems } from "./yaml.ts";

/** An entry of a group's files/ tree. */
export interface LocalEntry {
  /** Absolute path on the managed host; files/ itself is "/". */
  path: string;
  type: FileType;
  /** The default deployed mode (SPEC 3.5): directories 0755, regular files 0755 when executable
   * by their owner locally, else 0644, symbolic links 0777. The local group and other bits never
   * reach a host; permissions.yaml overrides this. */
  mode: number;
  /** The local mode withholds read permission from others (a private file in the checkout). */
  private: boolean;
  /** Regular file: its bytes; symbolic link: its target's bytes; directory: empty. */
  content: Buffer;
  /** Symbolic links: the target text (never followed). */
  target?: string;
  /** Path relative to the configuration directory, for messages. */
  source: string;
}

export interface Template {
  parsed: ParsedTemplate;
  /** Path of the template relative to the configuration directory, for messages. */
  source: string;
}

export interface GroupDir {
  name: string;
  /** Sources (relative to the configuration directory) of private local entries without a
   * permissions.yaml entry: they will be deployed readable by everyone (SPEC 3.5). */
  unprotected: string[];
  /** By path; empty without files/. */
  files: Map<string, LocalEntry>;
  permissions: Map<string, Permission>;
  templates: Map<string, Template>;
  /** Path -> commands, as in triggers.yaml. */
  triggers: Map<string, string[]>;
  /** packages.yaml, one entry per name (SPEC 3.5). */
  packages: PackageEntry[];
  /** services.yaml, one entry per name. */
  services: ServiceEntry[];
  /** commands.yaml: a plain command is `{ run }`. */
  commands: CommandEntry[];
  /** validate.yaml: path -> command, `%s` standing for the new file. */
  validate: Map<string, string>;
  /** vars.yaml, by name. */
  vars: Map<string, Variable>;
  /** The !env and !command values of vars.yaml (resolved by resolveSecrets). */
  secrets: Secret[];
  /** absent.yaml: paths that must not exist on the host, as listed. */
  absent: string[];
}

const YAML_FILES = [
  "permissions.yaml",
  "templates.yaml",
  "triggers.yaml",
  "packages.yaml",
  "services.yaml",
  "commands.yaml",
  "vars.yaml",
  "validate.yaml",
  "absent.yaml",
] as const;
type YamlName = (typeof YAML_FILES)[number];

/** Reads the group directory `name` of the configuration directory `dir`; entries
 * matching `ignore` (config.yaml) are not part of it. */
export function loadGroupDir(
  dir: string,
  name: string,
  problems: Problems,
  ignore: Ignore,
): GroupDir {
  const group: GroupDir = {
    name,
    unprotected: [],
    files: new Map(),
    permissions: new Map(),
    templates: new Map(),
    triggers: new Map(),
    packages: [],
    services: [],
    commands: [],
    validate: new Map(),
    vars: new Map(),
    secrets: [],
    absent: [],
  };
  const present = new Set<YamlName>();
  let names: string[];
  try {
    names = readdirSync(path.join(dir, name)).sort();
  } catch (err) {
    problems.add({ file: name }, "unreadable", `cannot read group directory: ${errorText(err)}`);
    return group;
  }
  for (const entry of names) {
    const rel = `${name}/${entry}`;
    if (entry !== "files" && !isYamlName(entry)) {
      // Unknown entries that match an ignore pattern (an editor's backup of a YAML file) are
      // left alone; files/ and the YAML files themselves are never ignored.
      if (ignore.match(entry) !== undefined) continue;
      problems.add(
        { file: rel },
        "unexpected-entry",
        `unknown entry "${entry}" in group directory "${name}" (allowed: files/, ${YAML_FILES.join(", ")})`,
      );
      continue;
    }
    let st;
    try {
      st = entry === "files" ? lstatSync(path.join(dir, rel)) : statSync(path.join(dir, rel));
    } catch (err) {
      // A directory that can be listed but not searched (mode r without x) fails here with
      // EACCES; a YAML file that is a dangling link or a link loop is no regular file.
      const denied = (err as NodeJS.ErrnoException).code === "EACCES";
      if (entry !== "files" && !denied)
        problems.add({ file: rel }, "wrong-file-type", `${entry} must be a regular file`);
      else problems.add({ file: rel }, "unreadable", `cannot read: ${errorText(err)}`);
      continue;
    }
    if (entry === "files") {
      if (st.isDirectory()) {
        readTree(dir, name, group.files, problems, ignore);
      } else {
        problems.add(
          { file: rel },
          "wrong-file-type",
          `"files" in a group directory must be a directory`,
        );
      }
    } else if (st.isFile()) {
      present.add(entry);
    } else {
      problems.add({ file: rel }, "wrong-file-type", `${entry} must be a regular file`);
    }
  }

  for (const file of YAML_FILES) {
    if (!present.has(file)) continue;
    const tags = file === "vars.yaml" ? SECRET_TAGS : [];
    const yf = YamlFile.read(dir, `${name}/${file}`, problems, tags);
    if (!yf.ok || yf.isNull(yf.root)) continue;
    switch (file) {
      case "permissions.yaml":
        readPermissions(yf, group, ignore);
        break;
      case "templates.yaml":
        readTemplates(yf, group, ignore);
        break;
      case "triggers.yaml":
        readTriggers(yf, group, ignore);
        break;
      case "vars.yaml":
        ({ vars: group.vars, secrets: group.secrets } = readVars(yf));
        break;
      case "packages.yaml":
        group.packages = readPackages(yf);
        break;
      case "services.yaml":
        group.services = readServices(yf);
        break;
      case "commands.yaml":
        group.commands = readCommands(yf);
        break;
      case "validate.yaml":
        readValidate(yf, group, ignore);
        break;
      case "absent.yaml":
        group.absent = readAbsent(yf, group, ignore);
        break;
    }
  }
  for (const entry of group.files.values()) {
    if (entry.private && !group.permissions.has(entry.path)) group.unprotected.push(entry.source);
  }
  return group;
}

function isYamlName(name: string): name is YamlName {
  return (YAML_FILES as readonly string[]).includes(name);
}

/** Walks files/ without following symbolic links. */
function readTree(
  dir: string,
  group: string,
  files: Map<string, LocalEntry>,
  problems: Problems,
  ignore: Ignore,
): void {
  const walk = (managed: string): void => {
    const source = managed === "/" ? `${group}/files` : `${group}/files${managed}`;
    const local = path.join(dir, source);
    let st;
    try {
      st = lstatSync(local);
    } catch (err) {
      problems.add({ file: source }, "unreadable", `cannot read: ${errorText(err)}`);
      return;
    }
    let type: FileType;
    if (st.isDirectory()) type = "dir";
    else if (st.isFile()) type = "file";
    else if (st.isSymbolicLink()) type = "symlink";
    else {
      problems.add(
        { file: source },
        "wrong-file-type",
        `unsupported file type (only regular files, directories and symbolic links can be synced)`,
      );
      return;
    }
    if (type !== "symlink" && (st.mode & 0o022) !== 0) {
      problems.add(
        { file: source },
        "unsafe-permissions",
        `writable by group or others (mode ${formatMode(st.mode & 0o7777)}); run "safcm fixperms" to fix the permissions of the local files`,
      );
    }
    const entry: LocalEntry = {
      path: managed,
      type,
      mode: defaultMode(type, st.mode),
      private: type !== "symlink" && (st.mode & 0o004) === 0,
      content: Buffer.alloc(0),
      source,
    };
    try {
      if (type === "file") entry.content = readFileSync(local);
      if (type === "symlink") {
        const target = readlinkSync(local, { encoding: "buffer" });
        entry.target = target.toString("utf8");
        if (!Buffer.from(entry.target, "utf8").equals(target)) {
          problems.add(
            { file: source },
            "not-utf8",
            `the symbolic link's target is not valid UTF-8`,
          );
        }
        entry.content = target;
      }
    } catch (err) {
      problems.add({ file: source }, "unreadable", `cannot read: ${errorText(err)}`);
      return;
    }
    files.set(managed, entry);
    if (type === "dir") {
      let children: string[];
      try {
        children = readdirSync(local).sort();
      } catch (err) {
        problems.add({ file: source }, "unreadable", `cannot read: ${errorText(err)}`);
        return;
      }
      for (const child of children) {
        // An ignored directory takes its subtree with it.
        if (ignore.match(child) !== undefined) continue;
        walk(managed === "/" ? `/${child}` : `${managed}/${child}`);
      }
    }
  };
  walk("/");
}

/** SPEC 3.5: the deployed mode of a local entry without a permissions.yaml entry. Only the
 * owner's executable bit of a regular file counts, as git records it. */
export function defaultMode(type: FileType, localMode: number): number {
  if (type === "file") return (localMode & 0o100) !== 0 ? 0o755 : 0o644;
  return type === "dir" ? 0o755 : 0o777;
}

/** How many private entries one warning names. */
const NAMED = 3;

/**
 * The warnings of `check` and `sync` about the local checkout (SPEC 3.5): private entries
 * without a permissions.yaml entry, all in one warning that names a few of them.
 */
export function localWarnings(groupDirs: Iterable<GroupDir>): string[] {
  const sources = [...groupDirs].flatMap((g) => g.unprotected);
  if (sources.length === 0) return [];
  const named = sources
    .slice(0, NAMED)
    .map((s) => JSON.stringify(s))
    .join(", ");
  const more = sources.length > NAMED ? ` and ${sources.length - NAMED} more` : "";
  const [is, it] = sources.length === 1 ? ["is", "it"] : ["are", "one"];
  return [
    `${named}${more} ${is} not readable by others in the checkout but will be deployed readable ` +
      `by everyone (0644 or 0755); if ${it} holds a secret, declare its mode in permissions.yaml`,
  ];
}

/** A path of a group's YAML file: absolute and normalized, as on the managed host. */
function hostPath(yf: YamlFile, node: Node, p: string): string | undefined {
  const problem = absolutePathProblem(p);
  return problem === null ? p : yf.error(node, "bad-path", problem);
}

/** A path key of permissions/templates/triggers.yaml: absolute, normalized, present in files/. */
function managedPath(
  yf: YamlFile,
  group: GroupDir,
  ignore: Ignore,
  node: Node,
  p: string,
): string | undefined {
  if (hostPath(yf, node, p) === undefined) return undefined;
  if (!group.files.has(p)) {
    const ignored = ignore.matchPath(p);
    if (ignored !== undefined) {
      return yf.error(
        node,
        "missing-path",
        `"${p}" is ignored ("${ignored.component}" matches the ignore pattern "${ignored.pattern}" of config.yaml), so it is not part of ${group.name}/files/`,
      );
    }
    return yf.error(node, "missing-path", `"${p}" does not exist in ${group.name}/files/`);
  }
  return p;
}

function readPermissions(yf: YamlFile, group: GroupDir, ignore: Ignore): void {
  for (const e of yf.map(yf.root, "permissions.yaml") ?? []) {
    const p = managedPath(yf, group, ignore, e.keyNode, e.key);
    const text = yf.string(e.value, `the permission of "${e.key}"`);
    if (p === undefined || text === undefined) continue;
    const perm = parsePermission(text);
    if (typeof perm === "string") {
      yf.error(e.value, "bad-permission", perm);
      continue;
    }
    if (group.files.get(p)?.type === "symlink" && perm.mode !== 0o777) {
      yf.error(
        e.value,
        "bad-permission",
        `"${p}" is a symbolic link, which has no mode of its own: use 0777`,
      );
      continue;
    }
    group.permissions.set(p, perm);
  }
}

function readTemplates(yf: YamlFile, group: GroupDir, ignore: Ignore): void {
  for (const item of yf.stringList(yf.root, "templates.yaml") ?? []) {
    const p = managedPath(yf, group, ignore, item.node, item.value);
    if (p === undefined) continue;
    const entry = group.files.get(p);
    if (entry === undefined) continue;
    if (entry.type !== "file") {
      yf.error(
        item.node,
        "wrong-file-type",
        `"${p}" is not a regular file, so it cannot be a template`,
      );
      continue;
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(entry.content);
    } catch {
      yf.error(item.node, "not-utf8", `template "${p}" is not valid UTF-8 text`);
      continue;
    }
    try {
      const parsed = liquid().parse(text, entry.source);
      group.templates.set(p, { parsed, source: entry.source });
    } catch (err) {
      const { line, message } = liquidError(err);
      yf.problems.add(
        line === null ? { file: entry.source } : { file: entry.source, line },
        "template-syntax",
        `template error in group "${group.name}": ${message}`,
      );
    }
  }
}

function readTriggers(yf: YamlFile, group: GroupDir, ignore: Ignore): void {
  for (const e of yf.map(yf.root, "triggers.yaml") ?? []) {
    const p = managedPath(yf, group, ignore, e.keyNode, e.key);
    const commands = yf.stringList(e.value, `the commands of trigger "${e.key}"`);
    if (p === undefined || commands === undefined) continue;
    group.triggers.set(
      p,
      commands.map((c) => c.value),
    );
  }
}

/** SPEC 3.5: a command is a string, or a mapping with `run` and at most one guard
 * (`creates`: an absolute path; `unless`: a command). */
function readCommands(yf: YamlFile): CommandEntry[] {
  if (yf.isNull(yf.root)) return [];
  const commands: CommandEntry[] = [];
  for (const item of yf.seq(yf.root, "commands.yaml") ?? []) {
    if (!isMap(item)) {
      const run = yf.nonEmptyString(item, "an item of commands.yaml");
      if (run !== undefined) commands.push({ run });
      continue;
    }
    const entries = yf.map(item, "a command of commands.yaml") ?? [];
    yf.checkKeys(entries, COMMAND_KEYS, "a command of commands.yaml");
    const field = (name: string) => entries.find((e) => e.key === name);
    const run = field("run");
    if (run === undefined) {
      yf.error(item, "missing-key", `a command of commands.yaml needs "run" (the command)`);
      continue;
    }
    const entry: CommandEntry = { run: yf.nonEmptyString(run.value, `"run"`) ?? "" };
    const creates = field("creates");
    const unless = field("unless");
    if (creates !== undefined && unless !== undefined) {
      yf.error(unless.keyNode, "bad-value", `a command has either "creates" or "unless", not both`);
      continue;
    }
    if (creates !== undefined) {
      const p = yf.nonEmptyString(creates.value, `"creates"`);
      if (p === undefined) continue;
      const problem = absolutePathProblem(p);
      if (problem !== null) {
        yf.error(creates.value, "bad-path", `"creates" ${problem}`);
        continue;
      }
      entry.creates = p;
    }
    if (unless !== undefined) {
      const command = yf.nonEmptyString(unless.value, `"unless"`);
      if (command === undefined) continue;
      entry.unless = command;
    }
    if (entry.run !== "") commands.push(entry);
  }
  return commands;
}

const COMMAND_KEYS = ["run", "creates", "unless"] as const;

/** Why `p` is not an absolute, normalized path on the managed host, or null. */
function absolutePathProblem(p: string): string | null {
  if (!p.startsWith("/")) return `path "${p}" must be absolute, as on the managed host`;
  let normal = path.posix.normalize(p);
  if (normal.length > 1 && normal.endsWith("/")) normal = normal.slice(0, -1);
  if (normal !== p) return `path "${p}" is not normalized (write "${normal}")`;
  return null;
}

/** SPEC 3.5: validate.yaml maps a regular file of files/ to a command with `%s`. */
function readValidate(yf: YamlFile, group: GroupDir, ignore: Ignore): void {
  for (const e of yf.map(yf.root, "validate.yaml") ?? []) {
    const p = managedPath(yf, group, ignore, e.keyNode, e.key);
    const command = yf.nonEmptyString(e.value, `the validate command of "${e.key}"`);
    if (p === undefined || command === undefined) continue;
    if (group.files.get(p)?.type !== "file") {
      yf.error(
        e.keyNode,
        "wrong-file-type",
        `"${p}" is not a regular file, so it cannot be validated`,
      );
      continue;
    }
    if (!command.includes("%s")) {
      yf.error(
        e.value,
        "bad-value",
        `the validate command of "${p}" must contain %s, which stands for the new file (a command without it checks the old one)`,
      );
      continue;
    }
    group.validate.set(p, command);
  }
}

/**
 * absent.yaml (SPEC 3.5): paths that must not exist on the host. A path of the same group's
 * files/ is a contradiction; an ignored path is neither deployed nor removed (config.yaml
 * `ignore`); a path below another listed one is refused here, since only an empty directory
 * is ever removed and the helper removes each listed path on its own.
 */
function readAbsent(yf: YamlFile, group: GroupDir, ignore: Ignore): string[] {
  const paths: string[] = [];
  for (const item of yf.stringList(yf.root, "absent.yaml") ?? []) {
    const p = hostPath(yf, item.node, item.value);
    if (p === undefined) continue;
    if (p === "/") {
      yf.error(item.node, "bad-path", `"/" cannot be absent`);
      continue;
    }
    const ignored = ignore.matchPath(p);
    if (ignored !== undefined) {
      yf.error(
        item.node,
        "bad-path",
        `"${p}" is ignored ("${ignored.component}" matches the ignore pattern "${ignored.pattern}" of config.yaml), so safcm neither deploys nor removes it`,
      );
      continue;
    }
    const local = group.files.get(p);
    if (local !== undefined) {
      yf.error(
        item.node,
        "bad-path",
        `"${p}" is listed as absent but exists in ${group.name}/files/ (${local.source}); remove one of the two`,
      );
      continue;
    }
    const above = paths.find((a) => p.startsWith(`${a}/`));
    const below = paths.find((b) => b.startsWith(`${p}/`));
    if (above !== undefined || below !== undefined) {
      yf.error(
        item.node,
        "bad-path",
        above !== undefined
          ? `"${p}" lies below "${above}", which is also listed as absent; list only "${above}" (only an empty directory is removed)`
          : `"${p}" lies above "${below}", which is also listed as absent; list only "${p}" (only an empty directory is removed)`,
      );
      continue;
    }
    if (paths.includes(p)) {
      yf.error(item.node, "duplicate", `"${p}" is listed twice`);
      continue;
    }
    paths.push(p);
  }
  return paths;
}
