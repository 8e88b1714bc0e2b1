// Helpers shared by the helper's tests: temporary trees, request building,
// leftovers and descriptors; the rest is the toolkit's (test/helpers/tree.ts).

import { readdirSync, rmSync } from "node:fs";
import type { FileEntry, FileType, Owner } from "../../src/protocol/messages.ts";
import { tempDir as makeTempDir } from "../helpers/tree.ts";

// The snapshot is the toolkit's (test/helpers/tree.ts).
export { snapshot } from "../helpers/tree.ts";

/** A private (0700) temporary directory; remove it with removeDir. */
export function tempDir(prefix = "safcm-remote-"): string {
  return makeTempDir(prefix, { mode: 0o700 }).dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface Spec {
  path: string;
  type?: FileType;
  mode?: number;
  user?: Owner;
  group?: Owner;
  target?: string;
  content?: string | Buffer;
}

/** FileEntries and their attachment; type defaults to file (with content), symlink (with target) or dir. */
export function request(specs: Spec[]): { files: FileEntry[]; data: Buffer } {
  const parts: Buffer[] = [];
  let offset = 0;
  const files = specs.map((spec): FileEntry => {
    const type: FileType =
      spec.type ??
      (spec.content !== undefined ? "file" : spec.target !== undefined ? "symlink" : "dir");
    const entry: FileEntry = {
      path: spec.path,
      type,
      mode: spec.mode ?? (type === "dir" ? 0o755 : type === "symlink" ? 0o777 : 0o644),
      user: spec.user ?? 0,
      group: spec.group ?? 0,
    };
    if (type === "symlink") entry.target = spec.target ?? "";
    if (type === "file") {
      const content = Buffer.from(spec.content ?? "");
      entry.data_offset = offset;
      entry.data_length = content.length;
      parts.push(content);
      offset += content.length;
    }
    return entry;
  });
  return { files, data: Buffer.concat(parts) };
}

/** Names in a directory that look like safcm's temporary files. */
export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes(".safcm-"));
}

/** Open descriptors of this process (to find leaks). */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}
