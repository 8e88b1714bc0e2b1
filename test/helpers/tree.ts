// The test toolkit for files on disk: write a directory tree from a literal,
// temporary and configuration directories, a snapshot that notices any change,
// and a run of the real CLI. Every test writes trees in one format: keys are
// relative paths ("all/files/etc/motd"), parents are created with mode 0755.

import { spawn, type ChildProcessByStdio } from "node:child_process";
import {
  chmodSync,
  existsSync,
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
import type { Readable, Writable } from "node:stream";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const SAFCM = join(REPO, "bin", "safcm");

/** A tree entry: file content (mode 0644), or an object for modes, symlinks and directories. */
export type Node =
  | string
  | Buffer
  | { content: string | Buffer; mode: number }
  | { symlink: string }
  | { dir: true; mode?: number };

/** Relative path -> entry; written in the order of the keys. */
export type Tree = Record<string, Node>;

/** Writes `tree` below dir; dir and missing parents are created with mode 0755. */
export function writeTree(dir: string, tree: Tree): void {
  for (const [path, node] of Object.entries(tree)) {
    const full = join(dir, path);
    makeDirs(dirname(full));
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

/** mkdir -p with mode 0755 whatever the umask. */
function makeDirs(dir: string): void {
  if (existsSync(dir)) return;
  makeDirs(dirname(dir));
  mkdirSync(dir);
  chmodSync(dir, 0o755);
}

/** `tree` with every path below `prefix` (a group's files/ written as a tree of its own). */
export function under(prefix: string, tree: Tree): Tree {
  return Object.fromEntries(Object.entries(tree).map(([p, node]) => [`${prefix}/${p}`, node]));
}

/** A fresh temporary directory (mode 0755 unless told), removed by the returned cleanup. */
export function tempDir(
  prefix = "safcm-test-",
  options: { mode?: number; parent?: string } = {},
): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(options.parent ?? tmpdir(), prefix));
  chmodSync(dir, options.mode ?? 0o755);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const atExit: (() => void)[] = [];

/** A temporary configuration directory holding `tree` (hosts.yaml defaults to one host
 * "h1"); removed when the test process exits. */
export function configDir(tree: Tree): string {
  const { dir, cleanup } = tempDir("safcm-config-");
  if (atExit.length === 0) process.on("exit", () => atExit.forEach((c) => c()));
  atExit.push(cleanup);
  writeTree(dir, { "hosts.yaml": "- name: h1\n", ...tree });
  return dir;
}

/** Every entry below dir, each as one line of everything a write, rename, chmod or chown
 * would change: type and mode, owner, inode, mtime, ctime, content or link target. */
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

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (bin/safcm, which uses dist/); `nodeArgs` go to node before it. */
export function safcm(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {},
): Promise<Run> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), SAFCM, ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return finished(child);
}

/** What a child process with piped stdout and stderr printed, and its exit status, once it ended. */
export function finished(
  child: ChildProcessByStdio<Writable | null, Readable, Readable>,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
