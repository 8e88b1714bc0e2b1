// Combining the group directories of one host (SPEC 3.6): when groups provide
// the same path with different entries, the group with the higher priority
// wins; without an order between them it is an error.

import { HostError } from "../errors.ts";
import { ALL } from "../config/names.ts";
import type { FileEntry, TriggerEntry } from "../protocol/messages.ts";

/** A group's entry for a path with everything that counts for a conflict. */
export interface Candidate extends Pick<FileEntry, "path" | "type" | "mode" | "user" | "target"> {
  group: string;
  /** The entry's owning group (FileEntry's `group`; here `group` is the group directory). */
  ownerGroup: FileEntry["group"];
  /** Regular file: the (rendered) content; symlink: the target's bytes. */
  content: Buffer;
  template: boolean;
  /** triggers.yaml's commands for this path. */
  triggers: TriggerEntry["commands"];
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

/** The properties in which two candidates differ (empty: identical). */
export function differences(a: Candidate, b: Candidate): string[] {
  const diff: string[] = [];
  if (a.type !== b.type) diff.push("type");
  if (!a.content.equals(b.content)) diff.push(a.type === "symlink" ? "target" : "content");
  if (a.mode !== b.mode) diff.push("mode");
  if (a.user !== b.user || a.ownerGroup !== b.ownerGroup) diff.push("owner");
  if (a.template !== b.template) diff.push("template");
  if (a.triggers.length !== b.triggers.length || a.triggers.some((t, i) => t !== b.triggers[i])) {
    diff.push("triggers");
  }
  return diff;
}

/**
 * The entry that wins among the groups providing one path: an entry is beaten
 * by a differing entry of a higher group; the unbeaten entries must all be
 * identical. So the host's own group settles a conflict of two unordered
 * groups, and two unordered groups with identical entries never conflict.
 * @throws HostError when two differing unbeaten entries have no order.
 */
export function pickWinner(p: Priority, candidates: Candidate[]): Candidate {
  return winnerOf(
    p,
    candidates,
    (a, b) => differences(a, b).length === 0,
    (a, b) => conflictError(a, b, differences(a, b)),
  );
}

/** The rule of pickWinner for anything several groups provide (files, variables). */
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

function conflictError(a: Candidate, b: Candidate, diff: string[]): HostError {
  const [first, second] = a.group < b.group ? [a.group, b.group] : [b.group, a.group];
  return new HostError(
    `conflict: groups "${first}" and "${second}" both provide "${a.path}" and the entries differ (${diff.join(", ")}); ` +
      `order the two groups with group_order in config.yaml`,
  );
}
