// Connection reuse (SPEC 3.1 ssh_persist): an OpenSSH master connection per
// host, kept open ssh_persist seconds after a sync (ControlMaster=auto,
// ControlPersist), so that the next sync within that time skips the SSH
// handshake. The control sockets live in a private directory of the user:
// $XDG_RUNTIME_DIR/safcm-ssh, else /tmp/safcm-ssh-<uid>; it must be a real
// directory owned by the user with no group or other permission, or reuse is
// off for the run (whoever can reach a control socket can run commands on the
// host as the login user). A user's own ControlMaster/ControlPath settings
// always win: then safcm adds nothing. A master serves only the effective
// destination it was opened for (socketName): ssh computes that itself from
// the ControlPath `<dir>/%C`, without a process of ours; `ssh -G` is asked
// only where the configuration mentions Control* or a proxy, or -l verbose
// wants to say which master serves the host.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
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

// A keyword at the start of a line (comments start with #), as ssh_config(5) writes it.
const KEYWORD = /^\s*(control(?:master|path|persist)|proxy(?:jump|command))\b/gim;
const INCLUDE = /^\s*include\s+(.+)$/gim;

/** What the ssh configuration files mention, for any host. */
interface ConfigScan {
  /** ControlMaster, ControlPath or ControlPersist: the user may manage masters. */
  control: boolean;
  /** ProxyJump or ProxyCommand: a route that OpenSSH's %C does not (fully) include. */
  proxy: boolean;
}

/** Adds what `file`, and every file it includes, mentions to `scan`. */
function scanFile(file: string, base: string, scan: ConfigScan, depth = 0): void {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return;
  }
  for (const m of text.matchAll(KEYWORD)) {
    if (m[1].toLowerCase().startsWith("control")) scan.control = true;
    else scan.proxy = true;
  }
  if (depth > 8) {
    // an include loop: let ssh -G decide
    scan.control = true;
    scan.proxy = true;
    return;
  }
  for (const m of text.matchAll(INCLUDE)) {
    for (const pattern of m[1].trim().split(/\s+/)) {
      const path = pattern.replace(/^~(?=\/)/, homedir());
      const full = path.startsWith("/") ? path : join(base, path);
      for (const f of expand(full)) scanFile(f, base, scan, depth + 1);
    }
  }
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

const scanned = new Map<string, ConfigScan>();

/** What the user's ssh configuration (or the -F file) may set for some host; read once per run. */
export function scanConfig(sshConfig: string | null): ConfigScan {
  const key = sshConfig ?? "";
  let scan = scanned.get(key);
  if (scan === undefined) {
    scan = { control: false, proxy: false };
    if (sshConfig !== null) scanFile(sshConfig, join(homedir(), ".ssh"), scan);
    else {
      scanFile(join(homedir(), ".ssh/config"), join(homedir(), ".ssh"), scan);
      scanFile("/etc/ssh/ssh_config", "/etc/ssh", scan);
    }
    scanned.set(key, scan);
  }
  return scan;
}

/** The effective settings of a host as `ssh -G` prints them (keys lower-case, first value). */
export type SshSettings = Map<string, string>;

/**
 * Asks `ssh -G` how ssh resolves the host (one small process: only where the
 * configuration mentions Control* or a proxy, or where -l verbose asks which
 * master serves the host); null when ssh cannot tell.
 */
export async function resolveHost(host: TransportHost): Promise<SshSettings | null> {
  const args = ["-G"];
  if (host.sshConfig !== null) args.push("-F", host.sshConfig);
  if (host.sshUser !== null) args.push("-l", host.sshUser);
  args.push("--", host.name);
  const out = await new Promise<string | null>((resolve) => {
    execFile("ssh", args, { encoding: "utf8" }, (err, stdout) => resolve(err ? null : stdout));
  });
  if (out === null) return null;
  const settings: SshSettings = new Map();
  for (const line of out.split("\n")) {
    const space = line.indexOf(" ");
    if (space <= 0) continue;
    const key = line.slice(0, space).toLowerCase();
    if (!settings.has(key)) settings.set(key, line.slice(space + 1).trim());
  }
  return settings;
}

/** Whether the user's effective configuration for the host has its own ControlMaster or ControlPath. */
export function userControls(settings: SshSettings): boolean {
  const master = settings.get("controlmaster")?.toLowerCase() ?? null;
  const path = settings.get("controlpath")?.toLowerCase() ?? null;
  return (
    (master !== null && master !== "false" && master !== "no") || (path !== null && path !== "none")
  );
}

/** Length of a control socket's name: OpenSSH's %C, a SHA-1 in hex. */
export const SOCKET_NAME_LENGTH = 40;

/**
 * The name of a host's control socket, keyed by the effective destination as
 * ssh resolves it (SPEC 3.1): OpenSSH's %C, the SHA-1 of the local host name,
 * the host name after HostName, the port and the remote user, so that a
 * changed User, Port or HostName (ssh_config or hosts.yaml) never finds the
 * old master. A host reached through ProxyJump or ProxyCommand has the route
 * hashed in too (OpenSSH 9.2's %C leaves it out, later ones add only the
 * ProxyJump host): the same address behind two bastions is two hosts. So is
 * `alias`, the name as given (ssh -G prints a ProxyCommand's %n unexpanded,
 * and such a command may pick the machine by it). Null where ssh's answer
 * lacks a part.
 */
export function socketName(settings: SshSettings, alias: string): string | null {
  const user = settings.get("user");
  const target = settings.get("hostname");
  const port = settings.get("port");
  if (user === undefined || target === undefined || port === undefined) return null;
  // %C: SHA-1 of %l%h%p%r, %l being gethostname() (os.hostname()).
  const c = createHash("sha1").update(`${hostname()}${target}${port}${user}`).digest("hex");
  const jump = settings.get("proxyjump") ?? "none";
  const command = settings.get("proxycommand") ?? "none";
  if (jump === "none" && command === "none") return c;
  return createHash("sha1").update(`${c}\0${jump}\0${command}\0${alias}`).digest("hex");
}

/** Whether a master's socket exists (its master then serves the next connection). */
export function masterRunning(socket: string): boolean {
  try {
    return lstatSync(socket).isSocket();
  } catch {
    return false;
  }
}
