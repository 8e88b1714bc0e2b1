// validate.yaml across a host's groups (SPEC 3.5, 3.6): a path's validate
// command is a property of its own, from the groups whose validate.yaml names
// the path (not necessarily the group whose content wins); the higher group
// wins, and two unordered groups with different commands are a conflict.

import type { GroupDir } from "../config/group-dir.ts";
import { HostError } from "../errors.ts";
import { winnerOf, type Priority } from "./merge.ts";

interface Candidate {
  group: string;
  command: string;
}

/** Path -> the validate command that applies to it on this host. */
export function validateCommands(
  dirs: readonly GroupDir[],
  priority: Priority,
): Map<string, string> {
  const candidates = new Map<string, Candidate[]>();
  for (const dir of dirs) {
    for (const [path, command] of dir.validate) {
      const list = candidates.get(path) ?? [];
      list.push({ group: dir.name, command });
      candidates.set(path, list);
    }
  }
  const commands = new Map<string, string>();
  for (const [path, list] of candidates) {
    const winner = winnerOf(
      priority,
      list,
      (a, b) => a.command === b.command,
      (a, b) => {
        const [first, second] = [a.group, b.group].sort();
        return new HostError(
          `conflict: groups "${first}" and "${second}" both set a validate command for "${path}" and they differ; ` +
            `order the two groups with group_order in config.yaml`,
        );
      },
    );
    commands.set(path, winner.command);
  }
  return commands;
}

/** The validate command of a path's winning entry; one that is no regular file cannot have one. */
export function validateFor(
  commands: ReadonlyMap<string, string>,
  entry: { path: string; type: string; group: string },
): string | undefined {
  const command = commands.get(entry.path);
  if (command === undefined || entry.type === "file") return command;
  throw new HostError(
    `"${entry.path}" has a validate command, but group "${entry.group}" makes it a ${entry.type === "dir" ? "directory" : "symbolic link"}, which cannot be validated`,
  );
}
