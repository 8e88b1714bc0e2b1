// Writes small configuration directories for tests from object literals.

import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const KIND = Symbol("kind");

interface FileSpec {
  [KIND]: "file";
  content: string | Buffer;
  mode: number;
}
interface LinkSpec {
  [KIND]: "link";
  target: string;
}
interface DirSpec {
  [KIND]: "dir";
  tree: Tree;
  mode: number;
}
export interface Tree {
  [name: string]: string | Tree | FileSpec | LinkSpec | DirSpec;
}

export function file(content: string | Buffer, mode = 0o644): FileSpec {
  return { [KIND]: "file", content, mode };
}
export function link(target: string): LinkSpec {
  return { [KIND]: "link", target };
}
export function dir(tree: Tree, mode = 0o755): DirSpec {
  return { [KIND]: "dir", tree, mode };
}

/** Writes `tree` below `root` (a string is a file with mode 0644, an object a directory 0755). */
export function writeTree(root: string, tree: Tree): void {
  for (const [name, spec] of Object.entries(tree)) {
    const p = path.join(root, name);
    if (typeof spec === "string") {
      writeFileSync(p, spec);
      chmodSync(p, 0o644);
    } else if (KIND in spec && spec[KIND] === "file") {
      writeFileSync(p, spec.content);
      chmodSync(p, spec.mode);
    } else if (KIND in spec && spec[KIND] === "link") {
      symlinkSync(spec.target, p);
    } else if (KIND in spec && spec[KIND] === "dir") {
      mkdirSync(p);
      writeTree(p, spec.tree);
      chmodSync(p, spec.mode);
    } else {
      mkdirSync(p);
      writeTree(p, spec);
      chmodSync(p, 0o755);
    }
  }
}

const created: string[] = [];

/** A new temporary configuration directory holding `tree` (hosts.yaml defaults to one host "h1"). */
export function configDir(tree: Tree): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "safcm-test-"));
  if (created.length === 0) {
    process.on("exit", () => created.forEach((d) => rmSync(d, { recursive: true, force: true })));
  }
  created.push(root);
  chmodSync(root, 0o755);
  writeTree(root, { "hosts.yaml": "- name: h1\n", ...tree });
  return root;
}
