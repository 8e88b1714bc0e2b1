// What a host's templates see (SPEC 3.5): host, groups, vars, members and facts (SPEC 3.4).
// Variables are merged by the priority rules of SPEC 3.6, like files.

import { isDeepStrictEqual } from "node:util";
import { HostError, formatProblem } from "../errors.ts";
import type { Position } from "../errors.ts";
import type { Config } from "../config/load.ts";
import type { GroupDir } from "../config/group-dir.ts";
import { memberGroups } from "../config/groups.ts";
import { ALL, isDetectedGroup } from "../config/names.ts";
import { dependsOnDetection } from "../config/targets.ts";
import { VAR_NAME, resolvedValue } from "../config/vars.ts";
import type { RawValue, VarValue } from "../config/vars.ts";
import type { Facts } from "../protocol/messages.ts";
import { winnerOf } from "./merge.ts";
import type { Priority } from "./merge.ts";
import { watchedVars } from "./secret-reads.ts";
import { SECRET_READS, type FactValues, type TemplateContext } from "./templates.ts";

interface VarCandidate {
  group: string;
  /** As written: a secret stays a reference, so that templates' reads of it can be seen. */
  raw: RawValue;
  value: VarValue;
  pos: Position;
}

/**
 * The host's variables: for each name the value of the group with the highest
 * priority, secrets unresolved; the same value from several groups is no conflict. `dirs` are the
 * host's group directories. A conflict is an error even where no template
 * uses the variable.
 * @throws HostError for a conflict.
 */
export function mergeVars(priority: Priority, dirs: readonly GroupDir[]): Record<string, RawValue> {
  const candidates = new Map<string, VarCandidate[]>();
  for (const dir of dirs) {
    for (const [name, v] of dir.vars) {
      const c: VarCandidate = {
        group: dir.name,
        raw: v.value,
        value: resolvedValue(v.value),
        pos: v.pos,
      };
      const list = candidates.get(name);
      if (list === undefined) candidates.set(name, [c]);
      else list.push(c);
    }
  }
  const entries: [string, RawValue][] = [];
  for (const [name, list] of candidates) {
    const winner = winnerOf(
      priority,
      list,
      (a, b) => isDeepStrictEqual(a.value, b.value),
      (a, b) => varConflict(name, a, b),
    );
    entries.push([name, winner.raw]);
  }
  // fromEntries: a variable named __proto__ stays an own property.
  return Object.fromEntries(entries);
}

/** Names both groups and where they set the variable, never the values (they may be secrets). */
function varConflict(name: string, a: VarCandidate, b: VarCandidate): HostError {
  const [first, second] = a.group < b.group ? [a, b] : [b, a];
  const where = (c: VarCandidate) => formatProblem({ pos: c.pos, message: "" }).slice(0, -2);
  return new HostError(
    `conflict: groups "${first.group}" and "${second.group}" both set variable "${name}" and the values differ ` +
      `(${where(first)}, ${where(second)}); order the two groups with group_order in config.yaml`,
  );
}

const membersCache = new WeakMap<Config, Record<string, string[]>>();

/**
 * For `all` and every group of groups.yaml whose members do not depend on
 * detected groups: the sorted names of its member hosts. Computed once per
 * configuration, and only when a template is rendered.
 */
export function members(config: Config): Record<string, string[]> {
  let result = membersCache.get(config);
  if (result !== undefined) return result;
  const names = config.hosts.map((h) => h.name).sort();
  const byGroup = new Map<string, string[]>([[ALL, names]]);
  const listed = [...config.groups.members.keys()].filter((g) => !dependsOnDetection(config, g));
  for (const g of listed) byGroup.set(g, []);
  for (const host of names) {
    for (const g of memberGroups(config.groups, host, [])) byGroup.get(g)?.push(host);
  }
  result = Object.fromEntries(byGroup);
  membersCache.set(config, result);
  return result;
}

/**
 * `groups` of the template context: every known group and the host's detected
 * groups map to whether the host is a member; any other detected_<x> name is
 * known too (detected groups differ from host to host) and false. Any other
 * name stays unknown, so LiquidJS's strict mode reports a typo.
 */
export function groupsObject(known: Record<string, boolean>): Record<string, boolean> {
  const isExtra = (key: string | symbol): key is string =>
    typeof key === "string" && !Object.hasOwn(known, key) && isDetectedGroup(key);
  return new Proxy(known, {
    get: (target, key, receiver): unknown =>
      isExtra(key) ? false : (Reflect.get(target, key, receiver) as unknown),
    has: (target, key) => isExtra(key) || Reflect.has(target, key),
    getOwnPropertyDescriptor: (target, key) =>
      isExtra(key)
        ? { value: false, writable: false, enumerable: false, configurable: true }
        : Reflect.getOwnPropertyDescriptor(target, key),
  });
}

export { BUILT_IN_FACTS } from "../protocol/messages.ts";

/** `facts` of the template context: the built-in facts and those of detect_vars (already
 * checked: no built-in name, none twice). An own property per fact, so that any other name is
 * unknown in LiquidJS's strict mode, as an unknown variable is. */
export function factValues(builtIn: Facts, detected: ReadonlyMap<string, string>): FactValues {
  // fromEntries: a fact named __proto__ stays an own property.
  return Object.fromEntries([...Object.entries(builtIn), ...detected]);
}

/**
 * The facts `safcm check` renders with, having no host to ask (SPEC 4): `hostname` is the
 * host's name, every other string is "", the address lists are empty, `cpus` is 1 and
 * `memory_mib` 0. With detect_vars in config.yaml, any other name of a variable's form is ""
 * (which names those commands print is known only on the host); without, an unknown fact is an
 * error, as in a sync.
 */
export function placeholderFacts(host: string, detectVars: boolean): FactValues {
  const facts: FactValues = factValues(
    {
      hostname: host,
      os: "",
      arch: "",
      kernel: "",
      os_id: "",
      os_version_id: "",
      os_codename: "",
      os_like: "",
      ipv4: [],
      ipv6: [],
      cpus: 1,
      memory_mib: 0,
    },
    new Map(),
  );
  if (!detectVars) return facts;
  const isExtra = (key: string | symbol): key is string =>
    typeof key === "string" && !Object.hasOwn(facts, key) && VAR_NAME.test(key);
  return new Proxy(facts, {
    get: (target, key, receiver): unknown =>
      isExtra(key) ? "" : (Reflect.get(target, key, receiver) as unknown),
    has: (target, key) => isExtra(key) || Reflect.has(target, key),
    getOwnPropertyDescriptor: (target, key) =>
      isExtra(key)
        ? { value: "", writable: false, enumerable: false, configurable: true }
        : Reflect.getOwnPropertyDescriptor(target, key),
  });
}

/** The whole context of one host's templates; `facts` null: placeholders (safcm check). Its
 * variables note reads of a secret (SPEC 5.1). */
export function templateContext(
  config: Config,
  host: string,
  hostGroups: readonly string[],
  detected: readonly string[],
  vars: Record<string, RawValue>,
  facts: FactValues | null = null,
): TemplateContext {
  const groups: Record<string, boolean> = {};
  const member = new Set(hostGroups);
  for (const g of [...config.knownGroups, ...detected]) groups[g] = member.has(g);
  const reads = { read: false };
  return {
    host,
    groups: groupsObject(groups),
    vars: watchedVars(vars, reads),
    members: members(config),
    facts: facts ?? placeholderFacts(host, config.global.detect_vars.length > 0),
    [SECRET_READS]: reads,
  };
}
