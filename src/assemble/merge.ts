// Combining the group directories of one host (SPEC 3.6). A path's properties
// are resolved one by one, each from the groups that set it: type and content
// from the groups whose files/ has the path, mode and owner from the groups
// whose permissions.yaml names it, triggers from every group. For each
// property the group with the higher priority wins; two unordered groups
// that set it differently are an error.

import { formatMode } from "../mode.ts";
import { HostError } from "../errors.ts";
import { ALL } from "../config/names.ts";
import type { Permission } from "../config/permissions.ts";
import type { FileType, Owner } from "../protocol/messages.ts";

/** A group's copy of a path in its files/: what decides type and content. */
export interface Provided {
  group: string;
  path: string;
  type: FileType;
  /** The default mode of the local entry (SPEC 3.5): for a regular file, its
   * owner-executable bit; counts only where no permissions.yaml sets the mode. */
  mode: number;
  /** Regular file: the (rendered) content; symlink: the target's bytes; directory: empty. */
  content: Buffer;
  template: boolean;
  /** Symbolic links: the target text. */
  target?: string;
}

/** A group's permissions.yaml entry for a path. */
export interface Declared {
  group: string;
  permission: Permission;
}

/** A group's triggers.yaml commands for a path. */
export interface Triggered {
  group: string;
  commands: readonly string[];
}

/** One path's properties after resolution, with the group each came from. */
export interface Resolved {
  /** The copy whose type and content win (its `group` is where they come from). */
  provided: Provided;
  /** The mode: declared (with its group) or the default of the winning copy (group null). */
  mode: { value: number; group: string | null };
  /** The owner: declared (with its group) or the default (null). */
  owner: { user: Owner; group: Owner; from: string } | null;
  /** Every group's commands, lowest priority first, each command once. */
  triggers: string[];
  /** The groups whose triggers.yaml has commands for the path, lowest first. */
  triggerGroups: string[];
}

/** Decides between two groups of one host. */
export interface Priority {
  host: string;
  groupOrder: readonly string[];
}

/**
 * >0 when group a is above b, <0 when below, undefined when they have no order:
 * all is below everything, the host's own group above everything, and between
 * two other groups only group_order (later = higher) decides.
 */
export function comparePriority(p: Priority, a: string, b: string): number | undefined {
  if (a === b) return 0;
  if (a === p.host) return 1;
  if (b === p.host) return -1;
  if (a === ALL) return -1;
  if (b === ALL) return 1;
  const ia = p.groupOrder.indexOf(a);
  const ib = p.groupOrder.indexOf(b);
  if (ia < 0 || ib < 0) return undefined;
  return ia - ib;
}

/** Sort key for concatenating packages, services and commands: all first,
 * then groups without an order (by name), then group_order, then the host. */
export function prioritySort(p: Priority, groups: string[]): string[] {
  const rank = (g: string): number => {
    if (g === ALL) return -2;
    if (g === p.host) return p.groupOrder.length;
    return p.groupOrder.indexOf(g); // -1 for unordered
  };
  return [...groups].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Resolves one path (SPEC 3.6). `provided` is not empty; `declared` and `triggered`
 * list only the groups that set the property, in priority order, lowest first
 * (as the group directories are walked). A group that does not set a property is
 * in no conflict about it.
 * @throws HostError when two unordered groups set a property differently.
 */
export function resolvePath(
  p: Priority,
  path: string,
  provided: Provided[],
  declared: Declared[],
  triggered: Triggered[],
): Resolved {
  const modes = declared.map((d) => ({ group: d.group, value: d.permission.mode }));
  const mode =
    modes.length === 0
      ? undefined
      : winnerOf(
          p,
          modes,
          (a, b) => a.value === b.value,
          (a, b) =>
            conflictError(
              path,
              "mode",
              { group: a.group, shown: formatMode(a.value) },
              { group: b.group, shown: formatMode(b.value) },
              " in permissions.yaml",
            ),
        );
  // The local executable bit is the mode only where no permissions.yaml sets one.
  const copy = winnerOf(
    p,
    provided,
    (a, b) => contentDifference(a, b, mode === undefined) === undefined,
    (a, b) => {
      const what = contentDifference(a, b, mode === undefined) ?? "content";
      if (what === "type") {
        return conflictError(
          path,
          what,
          { group: a.group, shown: a.type },
          { group: b.group, shown: b.type },
        );
      }
      if (what === "mode") {
        return conflictError(
          path,
          what,
          { group: a.group, shown: formatMode(a.mode) },
          { group: b.group, shown: formatMode(b.mode) },
          " through the executable bit of their local files",
        );
      }
      return conflictError(path, what, a, b);
    },
  );
  const owners: { group: string; user: Owner; ownerGroup: Owner }[] = [];
  for (const { group, permission } of declared) {
    const { user, group: ownerGroup } = permission;
    if (user !== null && ownerGroup !== null) owners.push({ group, user, ownerGroup });
  }
  const owner =
    owners.length === 0
      ? undefined
      : winnerOf(
          p,
          owners,
          (a, b) => a.user === b.user && a.ownerGroup === b.ownerGroup,
          (a, b) =>
            conflictError(
              path,
              "owner",
              { group: a.group, shown: `${a.user} ${a.ownerGroup}` },
              { group: b.group, shown: `${b.user} ${b.ownerGroup}` },
              " in permissions.yaml",
            ),
        );
  const triggers = new Set<string>();
  for (const t of triggered) for (const command of t.commands) triggers.add(command);
  return {
    provided: copy,
    mode: mode === undefined ? { value: copy.mode, group: null } : mode,
    owner:
      owner === undefined ? null : { user: owner.user, group: owner.ownerGroup, from: owner.group },
    triggers: [...triggers],
    triggerGroups: triggered.filter((t) => t.commands.length > 0).map((t) => t.group),
  };
}

/** The first property in which two copies of a path differ, or undefined. */
function contentDifference(a: Provided, b: Provided, withMode: boolean): string | undefined {
  if (a.type !== b.type) return "type";
  if (!a.content.equals(b.content)) return a.type === "symlink" ? "target" : "content";
  if (a.template !== b.template) return "template";
  if (withMode && a.mode !== b.mode) return "mode";
  return undefined;
}

/**
 * The candidate that wins among the groups that set one property: a candidate
 * is beaten by a differing candidate of a higher group; the unbeaten ones must
 * all be the same. So the host's own group settles a conflict of two unordered
 * groups, and two unordered groups with the same value never conflict.
 * @throws HostError (from `conflict`) when two differing unbeaten candidates have no order.
 */
export function winnerOf<T extends { group: string }>(
  p: Priority,
  candidates: T[],
  same: (a: T, b: T) => boolean,
  conflict: (a: T, b: T) => HostError,
): T {
  const unbeaten = candidates.filter(
    (c) => !candidates.some((d) => (comparePriority(p, d.group, c.group) ?? 0) > 0 && !same(c, d)),
  );
  const [winner, ...others] = unbeaten;
  if (winner === undefined) throw new Error(`no candidate wins among ${candidates.length}`);
  for (const other of others) if (!same(winner, other)) throw conflict(winner, other);
  return winner;
}

/** Names both groups, the path and the property, and where the property is set; the
 * values only where they are no secret (a mode, an owner, a type), never a content. */
export function conflictError(
  path: string,
  property: string,
  a: { group: string; shown?: string },
  b: { group: string; shown?: string },
  where = "",
): HostError {
  const [first, second] = a.group < b.group ? [a, b] : [b, a];
  const values =
    first.shown !== undefined && second.shown !== undefined
      ? ` ("${first.group}": ${first.shown}, "${second.group}": ${second.shown})`
      : "";
  return new HostError(
    `conflict: groups "${first.group}" and "${second.group}" set the ${property} of "${path}" differently${where}${values}; ` +
      `order the two groups with group_order in config.yaml`,
  );
}
