// Test helpers: write a directory tree from a literal, snapshot a tree, run the CLI.

import { spawn } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const SAFCM = join(REPO, "bin", "safcm");

/** A tree entry: file content, or an object for modes, symlinks and directories. */
export type Node =
  | string
  | Buffer
  | { content: string | Buffer; mode: number }
  | { symlink: string }
  | { dir: true; mode?: number };

/** Writes `tree` (relative path -> node) below dir; parents are created 0755. */
export function writeTree(dir: string, tree: Record<string, Node>): void {
  for (const [path, node] of Object.entries(tree)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true, mode: 0o755 });
    if (typeof node === "string" || Buffer.isBuffer(node)) {
      writeFileSync(full, node);
      chmodSync(full, 0o644);
    } else if ("symlink" in node) {
      symlinkSync(node.symlink, full);
    } else if ("dir" in node) {
      mkdirSync(full, { recursive: true });
      chmodSync(full, node.mode ?? 0o755);
    } else {
      writeFileSync(full, node.content);
      chmodSync(full, node.mode);
    }
  }
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = "safcm-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Snap {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  data: string;
}

/** Everything below dir that a sync could change: types, modes, owners, times, contents. */
export function snapshot(dir: string): Record<string, Snap> {
  const out: Record<string, Snap> = {};
  const walk = (rel: string) => {
    const full = join(dir, rel);
    const st = lstatSync(full);
    const type = st.isDirectory()
      ? "dir"
      : st.isSymbolicLink()
        ? "symlink"
        : st.isFile()
          ? "file"
          : "other";
    const data =
      type === "file"
        ? readFileSync(full).toString("base64")
        : type === "symlink"
          ? readlinkSync(full)
          : "";
    out[rel || "."] = {
      type,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtimeMs: st.mtimeMs,
      data,
    };
    if (type === "dir") for (const name of readdirSync(full).sort()) walk(join(rel, name));
  };
  walk("");
  return out;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (bin/safcm, which uses dist/). */
export function safcm(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SAFCM, ...args], {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
