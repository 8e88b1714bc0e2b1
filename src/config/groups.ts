// groups.yaml (SPEC 3.3): group definitions, <group>_remove lists, cycle
// detection, and a host's membership.

import type { Node } from "yaml";
import { ALL, REMOVE_SUFFIX, groupNameProblem, isDetectedGroup } from "./names.ts";
import type { YamlFile } from "./yaml.ts";

export interface Groups {
  /** The groups of groups.yaml in file order, with their members as written. */
  members: Map<string, string[]>;
  /** <group>_remove: members removed from <group> after its members are expanded. */
  removes: Map<string, string[]>;
}

export function emptyGroups(): Groups {
  return { members: new Map(), removes: new Map() };
}

/**
 * Reads groups.yaml. `hostNames` is null when hosts.yaml could not be read; the
 * checks that need the hosts are skipped then (their errors would only be noise).
 */
export function loadGroups(yf: YamlFile, hostNames: ReadonlySet<string> | null): Groups {
  const groups = emptyGroups();
  if (yf.isNull(yf.root)) return groups;
  const entries = yf.map(yf.root, "groups.yaml");
  if (entries === undefined) return groups;

  const keyNodes = new Map<string, Node>();
  const memberNodes = new Map<string, { value: string; node: Node }[]>();
  const removes: { base: string; keyNode: Node; list: { value: string; node: Node }[] }[] = [];
  for (const e of entries) {
    const list = yf.stringList(e.value, `the members of "${e.key}"`) ?? [];
    if (e.key.endsWith(REMOVE_SUFFIX)) {
      removes.push({ base: e.key.slice(0, -REMOVE_SUFFIX.length), keyNode: e.keyNode, list });
      continue;
    }
    const problem = groupNameProblem(e.key);
    if (problem !== undefined) {
      yf.error(e.keyNode, "bad-name", problem);
      continue;
    }
    if (hostNames?.has(e.key) === true) {
      yf.error(
        e.keyNode,
        "bad-name",
        `invalid group name "${e.key}": it is the name of a host in hosts.yaml`,
      );
      continue;
    }
    keyNodes.set(e.key, e.keyNode);
    memberNodes.set(e.key, list);
    groups.members.set(
      e.key,
      list.map((m) => m.value),
    );
  }
  for (const r of removes) {
    if (!groups.members.has(r.base)) {
      yf.error(
        r.keyNode,
        "unknown-name",
        `"${r.base}${REMOVE_SUFFIX}" removes members from group "${r.base}", which is not defined in groups.yaml`,
      );
      continue;
    }
    groups.removes.set(
      r.base,
      r.list.map((m) => m.value),
    );
    memberNodes.get(r.base)?.push(...r.list);
  }

  if (hostNames !== null) {
    for (const [group, list] of memberNodes) {
      for (const m of list) {
        const known =
          m.value === ALL ||
          hostNames.has(m.value) ||
          groups.members.has(m.value) ||
          isDetectedGroup(m.value);
        if (!known) {
          yf.error(
            m.node,
            "unknown-name",
            `unknown member "${m.value}" of group "${group}": not a host, a group of groups.yaml, "all" or detected_<name>`,
          );
        }
      }
    }
  }
  for (const cycle of findCycles(groups)) {
    yf.error(keyNodes.get(cycle[0] ?? ""), "cycle", `cycle in groups: ${cycle.join(" -> ")}`);
  }
  return groups;
}

/**
 * Every cycle of the membership graph (members and _remove lists), each once, closed (a -> b -> a).
 * A depth-first search with its own stack: a chain of thousands of groups must not overflow
 * the call stack (loadConfig throws nothing but ConfigError).
 */
export function findCycles(groups: Groups): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const done = new Set<string>();
  const path: string[] = [];
  /** Index in `path` of each group on it. */
  const onPath = new Map<string, number>();
  const frames: { edges: string[]; next: number }[] = [];
  const enter = (g: string): void => {
    onPath.set(g, path.length);
    path.push(g);
    frames.push({ edges: edges(groups, g), next: 0 });
  };
  for (const start of groups.members.keys()) {
    if (done.has(start)) continue;
    enter(start);
    for (let frame = frames.at(-1); frame !== undefined; frame = frames.at(-1)) {
      const m = frame.edges[frame.next++];
      if (m === undefined) {
        frames.pop();
        const g = path.pop() ?? "";
        onPath.delete(g);
        done.add(g);
        continue;
      }
      const at = onPath.get(m);
      if (at !== undefined) {
        const cycle = path.slice(at);
        const key = [...cycle].sort().join(" ");
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...cycle, m]);
        }
      } else if (!done.has(m)) enter(m);
    }
  }
  return cycles;
}

function edges(groups: Groups, g: string): string[] {
  const all = [...(groups.members.get(g) ?? []), ...(groups.removes.get(g) ?? [])];
  return all.filter((m) => groups.members.has(m));
}

/**
 * The groups of groups.yaml that `host` is a member of, given its detected
 * groups. The configuration must have loaded without problems (no cycles).
 */
export function memberGroups(groups: Groups, host: string, detected: readonly string[]): string[] {
  const decided = decide(groups, host, (m) => (detected.includes(m) ? YES : NO));
  return [...groups.members.keys()].filter((g) => decided.get(g) === YES);
}

/**
 * The groups of groups.yaml that `host` is or may be in, whatever its detected
 * groups turn out to be (a member that is a detected group counts as "maybe",
 * so does a group that removes one).
 */
export function possibleGroups(groups: Groups, host: string): string[] {
  const decided = decide(groups, host, () => MAYBE);
  return [...groups.members.keys()].filter((g) => decided.get(g) !== NO);
}

/** Membership in three values: "maybe" stands for what depends on detected groups. */
type Tri = 0 | 1 | 2;
const NO: Tri = 0;
const MAYBE: Tri = 1;
const YES: Tri = 2;

/**
 * Decides every group of groups.yaml for `host`: a group is a member when any
 * of its members matches and none of its _remove entries does (in three
 * values: "or" is the maximum, "not" swaps yes and no). `detected` decides a
 * member that is a detected group. Each group is decided after the groups it
 * names (its own stack, no recursion, so a long chain of groups cannot
 * overflow the call stack).
 */
function decide(groups: Groups, host: string, detected: (member: string) => Tri): Map<string, Tri> {
  const decided = new Map<string, Tri>();
  const matches = (member: string): Tri => {
    if (member === ALL || member === host) return YES;
    if (groups.members.has(member)) return decided.get(member) ?? NO; // a cycle: no
    return isDetectedGroup(member) ? detected(member) : NO; // another host
  };
  const any = (list: string[]): Tri =>
    list.reduce<Tri>((t, m) => Math.max(t, matches(m)) as Tri, NO);
  const started = new Set<string>();
  for (const start of groups.members.keys()) {
    const stack = [start];
    for (let g = stack.at(-1); g !== undefined; g = stack.at(-1)) {
      if (decided.has(g)) {
        stack.pop();
        continue;
      }
      const members = groups.members.get(g) ?? [];
      const removes = groups.removes.get(g) ?? [];
      if (!started.has(g)) {
        started.add(g);
        for (const m of [...members, ...removes]) {
          if (groups.members.has(m) && !started.has(m)) stack.push(m);
        }
        continue;
      }
      stack.pop();
      decided.set(g, Math.min(any(members), YES - any(removes)) as Tri);
    }
  }
  return decided;
}
