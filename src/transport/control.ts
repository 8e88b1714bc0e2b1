// Connection reuse (SPEC 3.1 ssh_persist): an OpenSSH master connection per
// host, kept open ssh_persist seconds after a sync (ControlMaster=auto,
// ControlPersist), so that the next sync within that time skips the SSH
// handshake. The control sockets live in a private directory of the user:
// $XDG_RUNTIME_DIR/safcm-ssh, else /tmp/safcm-ssh-<uid>; it must be a real
// directory owned by the user with no group or other permission, or reuse is
// off for the run (whoever can reach a control socket can run commands on the
// host as the login user). A user's own ControlMaster/ControlPath settings
// always win: then safcm adds nothing.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { TransportHost } from "./transport.ts";

/** The directory for the control sockets (not checked). */
export function controlDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  return runtime !== undefined && runtime.startsWith("/")
    ? join(runtime, "safcm-ssh")
    : `/tmp/safcm-ssh-${process.getuid?.() ?? 0}`;
}

/** Creates the control directory if needed; null when usable, else why not. */
export function privateControlDir(dir: string): string | null {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      return `cannot create ${dir}: ${(err as Error).message}`;
    }
  }
  const st = lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    return `${dir} is not a directory of yours that only you can use (0700)`;
  }
  return null;
}

const CONTROL = /^\s*control(master|path|persist)\b/im;
const INCLUDE = /^\s*include\s+(.+)$/gim;

/** Whether an OpenSSH configuration file, or one it includes, mentions Control* at all. */
function mentionsControl(file: string, base: string, depth = 0): boolean {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return false;
  }
  if (CONTROL.test(text)) return true;
  if (depth > 8) return true; // an include loop: let ssh -G decide
  for (const m of text.matchAll(INCLUDE)) {
    for (const pattern of m[1].trim().split(/\s+/)) {
      const path = pattern.replace(/^~(?=\/)/, homedir());
      const full = path.startsWith("/") ? path : join(base, path);
      if (expand(full).some((f) => mentionsControl(f, base, depth + 1))) return true;
    }
  }
  return false;
}

/** A glob in the last component only (what Include lines use in practice); others as they are. */
function expand(pattern: string): string[] {
  if (!/[*?[]/.test(pattern)) return [pattern];
  const dir = dirname(pattern);
  if (/[*?[]/.test(dir)) return [];
  const re = new RegExp(
    "^" +
      pattern
        .slice(dir.length + 1)
        .replace(/[.+^${}()|\\]/g, "\\$&")
        .replaceAll("*", ".*")
        .replaceAll("?", ".") +
      "$",
  );
  try {
    return readdirSync(dir)
      .filter((e) => re.test(e))
      .map((e) => join(dir, e));
  } catch {
    return [];
  }
}

const scanned = new Map<string, boolean>();

/** Whether the user's ssh configuration (or the -F file) may set Control* for some host; once per run. */
function configMayControl(sshConfig: string | null): boolean {
  const key = sshConfig ?? "";
  let result = scanned.get(key);
  if (result === undefined) {
    result =
      sshConfig !== null
        ? mentionsControl(sshConfig, join(homedir(), ".ssh"))
        : mentionsControl(join(homedir(), ".ssh/config"), join(homedir(), ".ssh")) ||
          mentionsControl("/etc/ssh/ssh_config", "/etc/ssh");
    scanned.set(key, result);
  }
  return result;
}

/**
 * Whether ssh's effective configuration for this host has its own
 * ControlMaster or ControlPath. Reading the configuration files is enough when
 * none of them mentions Control* (the usual case: no extra process); else
 * `ssh -G` says, one small process per host, run in parallel with the others.
 */
export async function userControlsHost(host: TransportHost): Promise<boolean> {
  if (!configMayControl(host.sshConfig)) return false;
  const args = ["-G"];
  if (host.sshConfig !== null) args.push("-F", host.sshConfig);
  if (host.sshUser !== null) args.push("-l", host.sshUser);
  args.push("--", host.name);
  const out = await new Promise<string | null>((resolve) => {
    execFile("ssh", args, { encoding: "utf8" }, (err, stdout) => resolve(err ? null : stdout));
  });
  if (out === null) return true; // cannot tell: add nothing
  const value = (key: string) =>
    new RegExp(`^${key} (.*)$`, "m").exec(out)?.[1].trim().toLowerCase() ?? null;
  const master = value("controlmaster");
  const path = value("controlpath");
  return (
    (master !== null && master !== "false" && master !== "no") || (path !== null && path !== "none")
  );
}

/**
 * The control socket of a host: a name derived from everything that selects
 * the connection (configuration file, login user, host), short enough for the
 * 108-byte limit of a unix socket path.
 */
export function controlSocket(dir: string, host: TransportHost): string {
  const id = createHash("sha256")
    .update(`${host.sshConfig ?? ""}\0${host.sshUser ?? ""}\0${host.name}`)
    .digest("hex")
    .slice(0, 32);
  return join(dir, id);
}

/** Whether a master's socket exists (its master then serves the next connection). */
export function masterRunning(socket: string): boolean {
  try {
    return lstatSync(socket).isSocket();
  } catch {
    return false;
  }
}
