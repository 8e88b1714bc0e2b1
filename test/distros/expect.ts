// What the harness's configuration (config/) must leave on each release, read
// from the configuration itself: every entry of the files/ trees of the groups a
// Debian host is in, with the mode and owner of permissions.yaml (or the defaults
// of SPEC 3.5), the content of the local file (templates rendered here by hand,
// so that a wrong rendering by safcm shows), plus what the packages, triggers and
// guarded commands make.

import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import type { Release } from "./rootfs.ts";
import type { Stat } from "./remote.ts";

/** The group directories every harness host is in (all, detected_debian, cache via groups.yaml). */
export const GROUPS = ["all", "detected_debian", "cache"];
export const PACKAGES = ["redis-server", "ca-certificates"];
const IGNORED = new Set([".gitkeep"]);

export interface Entry {
  path: string;
  type: Stat["type"];
  /** null: not declared (an undeclared directory keeps what it had, or what the package gave it). */
  mode: string | null;
  user: string | null;
  group: string | null;
  /** sha256 of the content, the link target, or "-". */
  content: string;
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The content of the templates of config/ as they must come out on `release`. */
function rendered(path: string, text: string, release: Release): string {
  if (path === "/etc/motd") {
    return `${release.host}: Debian ${release.version} (${release.codename}), managed by safcm.\nThis host runs a Redis cache.\n`;
  }
  if (path === "/etc/ssh/sshd_config") {
    const line =
      release.codename === "bullseye"
        ? "ChallengeResponseAuthentication no"
        : "KbdInteractiveAuthentication no";
    return text.replace(/^\{% if groups\.detected_bullseye %\}.*$/m, line);
  }
  throw new Error(`the harness does not know how ${path} renders: add it to expect.ts`);
}

/** Every entry of the files/ trees of GROUPS in `config` as it must be on `release`. */
export function expectedFiles(config: string, release: Release): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  for (const group of GROUPS) {
    const dir = join(config, group);
    const permissions = readYaml(join(dir, "permissions.yaml")) as Record<string, string> | null;
    const templates = (readYaml(join(dir, "templates.yaml")) as string[] | null) ?? [];
    const walk = (rel: string): void => {
      for (const name of readdirSync(join(dir, "files", rel)).sort()) {
        if (IGNORED.has(name)) continue;
        const local = join(dir, "files", rel, name);
        const path = `${rel}/${name}`;
        const st = lstatSync(local);
        const declared = permissions?.[path];
        let entry: Entry;
        if (st.isDirectory()) {
          entry = { path, type: "dir", mode: null, user: null, group: null, content: "-" };
        } else if (st.isSymbolicLink()) {
          const target = readlinkSync(local);
          entry = {
            path,
            type: "symlink",
            mode: "0777",
            user: "root",
            group: "root",
            content: target,
          };
        } else {
          const text = readFileSync(local, "utf8");
          const content = templates.includes(path) ? rendered(path, text, release) : text;
          const mode = st.mode & 0o100 ? "0755" : "0644";
          entry = {
            path,
            type: "file",
            mode,
            user: "root",
            group: "root",
            content: sha256(content),
          };
        }
        if (declared !== undefined) {
          const [mode, user = "root", grp = "root"] = String(declared).split(/\s+/);
          entry = { ...entry, mode: mode.padStart(4, "0"), user, group: grp };
        }
        const earlier = entries.get(path);
        // A directory in several trees: a declared mode wins over none (SPEC 3.6).
        if (earlier === undefined || earlier.mode === null) entries.set(path, entry);
        if (st.isDirectory()) walk(path);
      }
    };
    walk("");
  }
  return entries;
}

function readYaml(path: string): unknown {
  try {
    return parse(readFileSync(path, "utf8")) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** What a stat shows against what `entry` expects: "" when it matches, else the differences. */
export function mismatch(entry: Entry, actual: Stat | null): string {
  if (actual === null) return "missing";
  const wrong: string[] = [];
  if (actual.type !== entry.type) wrong.push(`type ${actual.type}, expected ${entry.type}`);
  if (entry.mode !== null && actual.mode !== entry.mode)
    wrong.push(`mode ${actual.mode}, expected ${entry.mode}`);
  const owner = `${actual.user}:${actual.group}`;
  if (entry.user !== null && owner !== `${entry.user}:${entry.group}`) {
    wrong.push(`owner ${owner}, expected ${entry.user}:${entry.group}`);
  }
  if (actual.type === entry.type && actual.content !== entry.content) {
    wrong.push(
      entry.type === "symlink"
        ? `target ${actual.content}, expected ${entry.content}`
        : "content differs",
    );
  }
  return wrong.join("; ");
}
