// The packages and services of one host (SPEC 3.5, 3.6): the lists of its
// groups concatenated, one entry per name. A name that groups state
// differently (present and absent, started and stopped, with and without
// Recommends) is decided like a file: the group with the higher priority
// wins, and two groups without an order are a conflict naming both.

import type { GroupDir } from "../config/group-dir.ts";
import { describePackage, describeService } from "../config/states.ts";
import { HostError } from "../errors.ts";
import type { PackageEntry, ServiceEntry } from "../protocol/messages.ts";
import { winnerOf, type Priority } from "./merge.ts";

/** The host's packages, in the order of their first mention (groups lowest priority first). */
export function mergePackages(p: Priority, dirs: readonly GroupDir[]): PackageEntry[] {
  return merge(p, dirs, (d) => d.packages, "package", describePackage);
}

/** The host's services, in the order of their first mention (groups lowest priority first). */
export function mergeServices(p: Priority, dirs: readonly GroupDir[]): ServiceEntry[] {
  return merge(p, dirs, (d) => d.services, "service", describeService);
}

function merge<T extends { name: string }>(
  p: Priority,
  dirs: readonly GroupDir[],
  entries: (d: GroupDir) => readonly T[],
  kind: string,
  describe: (e: T) => string,
): T[] {
  const byName = new Map<string, { group: string; entry: T }[]>();
  for (const dir of dirs) {
    for (const entry of entries(dir)) {
      const list = byName.get(entry.name);
      const candidate = { group: dir.name, entry };
      if (list === undefined) byName.set(entry.name, [candidate]);
      else list.push(candidate);
    }
  }
  const out: T[] = [];
  for (const [name, list] of byName) {
    if (list.length === 1) {
      out.push(list[0].entry);
      continue;
    }
    const winner = winnerOf(
      p,
      list,
      (a, b) => describe(a.entry) === describe(b.entry),
      (a, b) => {
        const [first, second] = a.group < b.group ? [a, b] : [b, a];
        return new HostError(
          `conflict: groups "${first.group}" and "${second.group}" both list ${kind} "${name}" ` +
            `(${describe(first.entry)}; ${describe(second.entry)}); ` +
            `order the two groups with group_order in config.yaml`,
        );
      },
    );
    out.push(winner.entry);
  }
  return out;
}

/** The packages installed without their Recommends (SPEC 5.2), for `check -l verbose`. */
export function withoutRecommends(packages: readonly PackageEntry[]): string[] {
  return packages.filter((p) => p.state === "present" && !p.recommends).map((p) => p.name);
}
