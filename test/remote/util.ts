// Helpers shared by the helper's tests: temporary trees, request building,
// leftovers and descriptors, the bundled helper started as a host starts it; the rest is the toolkit's (test/helpers/tree.ts).

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import type { FileEntry, FileType, Owner } from "../../src/protocol/messages.ts";
import { BOOTSTRAP, helperBundle } from "../../src/transport/bootstrap.ts";
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

/**
 * Starts the helper as a host runs it: the bundle built by `npm run build` (dist/remote.js),
 * loaded by the real bootstrap (`node -e BOOTSTRAP <length>`, the bundle first on standard
 * input). `prefix` runs before node (e.g. prlimit); `then` is JavaScript run once the
 * helper has started. Write the requests, then end stdin.
 */
export function startHelper(
  options: { prefix?: string[]; then?: string } = {},
): ChildProcessWithoutNullStreams {
  const bundle = helperBundle();
  const code = options.then === undefined ? BOOTSTRAP : `${BOOTSTRAP};${options.then}`;
  const argv = [...(options.prefix ?? []), process.execPath, "-e", code, String(bundle.length)];
  const child = spawn(argv[0], argv.slice(1), { stdio: "pipe" });
  child.stdin.write(bundle);
  return child;
}
