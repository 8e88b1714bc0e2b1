// Helpers shared by the helper's tests: temporary trees, request building,
// and a snapshot of a tree that notices any change (content, type, mode,
// owner, mtime, ctime).

import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FileEntry, FileType, Owner } from "../../src/protocol/messages.ts";

export function tempDir(prefix = "safcm-remote-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
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

/** Every entry below `dir` with everything a write, chmod or chown would change. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    const full = join(dir, rel);
    const st = lstatSync(full);
    let content = "";
    if (st.isFile()) content = readFileSync(full).toString("hex");
    else if (st.isSymbolicLink()) content = readlinkSync(full);
    out[rel || "."] =
      `${st.mode.toString(8)} ${st.uid}:${st.gid} ino=${st.ino} mtime=${st.mtimeMs} ctime=${st.ctimeMs} ${content}`;
    if (st.isDirectory()) for (const name of readdirSync(full).sort()) walk(join(rel, name));
  };
  walk("");
  return out;
}

/** Names in a directory that look like safcm's temporary files. */
export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes(".safcm-"));
}

/** Open descriptors of this process (to find leaks). */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}
