import { spawn } from "node:child_process";
import { join } from "node:path";
import {
  EXIT_NODE_TOO_OLD,
  nodeTooOld,
  EXIT_NOT_FOUND,
  explainSudo,
  helperCommand,
  shellQuote,
} from "./bootstrap.ts";
import {
  controlDir,
  masterRunning,
  privateControlDir,
  resolveHost,
  scanConfig,
  socketName,
  SOCKET_NAME_LENGTH,
  userControls,
  type SshSettings,
} from "./control.ts";
import type { HelperProcess, Transport, TransportHost } from "./transport.ts";

/** ssh's own exit status for connection and authentication errors. */
const EXIT_SSH_ERROR = 255;

const MAX_SOCKET_PATH = 107 - 17;

const dirChecks = new Map<string, string | null>();

/** privateControlDir, once per run and directory. */
function checkedDir(dir: string): string | null {
  if (!dirChecks.has(dir)) dirChecks.set(dir, privateControlDir(dir));
  return dirChecks.get(dir) ?? null;
}

/** `connection: ssh`: the system's ssh, so the user's configuration, agent and known_hosts apply. */
export class SshTransport implements Transport {
  private reuseNote: string | null = null;
  /** How ssh resolves this host (`ssh -G`), where prepare asked (else null). */
  private settings: SshSettings | null = null;
  /** ssh could not tell how it resolves the host: add nothing to what it does. */
  private unresolved = false;

  constructor(readonly host: TransportHost) {}

  start(helperLength: number): HelperProcess {
    const args = ["-o", "BatchMode=yes", "-T"];
    this.reuseNote = this.controlOptions(args);
    if (this.host.sshConfig !== null) args.push("-F", this.host.sshConfig);
    if (this.host.sshUser !== null) args.push("-l", this.host.sshUser);
    const remote = ["exec", ...helperCommand(this.host, helperLength).map(shellQuote)];
    args.push("--", this.host.name, remote.join(" "));
    return spawn("ssh", args, {
      stdio: ["pipe", "pipe", "pipe"],
      // Its own process group: Ctrl-C on a terminal reaches safcm only, which stops the
      // helper cleanly and still receives its report (SPEC 5.5).
      detached: true,
    });
  }

  /**
   * Asks `ssh -G` about the host only where its answer is needed: the
   * configuration mentions Control* (the user's own masters win) or a proxy
   * (which the control socket's name must include), or `describeReuse` (-l
   * verbose) wants to say whether an earlier master serves this sync. Else no
   * process: ssh itself expands the ControlPath's %C (SPEC 3.1).
   */
  async prepare(describeReuse = false): Promise<void> {
    const scan = scanConfig(this.host.sshConfig);
    const persist = this.host.sshPersist > 0;
    if (scan.control || (persist && (scan.proxy || describeReuse))) {
      this.settings = await resolveHost(this.host);
      // Unknown with Control* in the configuration: add nothing. Unknown with a proxy: a
      // name without the route could reach the wrong host, so no reuse either.
      this.unresolved = this.settings === null && (scan.control || scan.proxy);
    }
  }

  reuse(): string | null {
    return this.reuseNote;
  }

  /** Adds the options of connection reuse (control.ts) to args; says what it did. */
  private controlOptions(args: string[]): string {
    const persist = this.host.sshPersist;
    if (this.settings !== null && userControls(this.settings)) {
      return "connection reuse as your ssh configuration says (it sets ControlMaster or ControlPath)";
    }
    if (persist === 0) return "connection reuse off (ssh_persist: 0)";
    if (this.unresolved) {
      return "connection reuse off: ssh -G could not tell how ssh reaches this host";
    }
    const dir = controlDir();
    const problem = checkedDir(dir);
    if (problem !== null) return `connection reuse off: ${problem}`;
    // ssh adds a temporary suffix of 17 characters; a unix socket path has at most 107.
    if (dir.length + 1 + SOCKET_NAME_LENGTH > MAX_SOCKET_PATH) {
      return `connection reuse off: the control socket directory ${dir} is too long for a unix socket`;
    }
    // ssh expands %, ~ and ${...} in a ControlPath; the directory's own characters stay.
    if (dir.includes("$")) return `connection reuse off: ${dir} contains "$"`;
    const name = this.settings === null ? null : socketName(this.settings, this.host.name);
    const scan = scanConfig(this.host.sshConfig);
    if (scan.proxy && name === null) {
      return "connection reuse off: ssh -G did not say how ssh reaches this host";
    }
    // Keyed by the effective destination (SPEC 3.1): where the configuration names no
    // proxy, %C, which ssh computes itself; else the name socketName computed from ssh -G.
    const controlPath = `${dir.replaceAll("%", "%%")}/${scan.proxy ? name : "%C"}`;
    args.push(
      "-o",
      "ControlMaster=auto",
      "-o",
      `ControlPath=${controlPath}`,
      "-o",
      `ControlPersist=${persist}s`,
    );
    if (name === null) return `connection reuse on (${dir}/%C)`;
    const socket = join(dir, name);
    return masterRunning(socket)
      ? `reusing the ssh connection an earlier sync left open (${socket})`
      : `new ssh connection; it stays open ${persist} s after this sync for the next one (${socket})`;
  }

  /** What to do about a host key ssh refused (BatchMode never asks), or "". */
  private hostKeyHint(stderr: string): string {
    const ssh = `ssh${this.host.sshConfig === null ? "" : ` -F ${this.host.sshConfig}`} ${this.host.name}`;
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|host key for .* has changed/i.test(stderr)) {
      return (
        `: the host key of ${this.host.name} has changed; if that is expected, remove the old key ` +
        `(${removeKeyCommand(stderr)}) and run "${ssh}" once to check and accept the new one`
      );
    }
    if (/Host key verification failed|host key is known/i.test(stderr)) {
      return `: the host key of ${this.host.name} is unknown or has changed; run "${ssh}" once to check and accept it`;
    }
    return "";
  }

  explainExit(code: number | null, _signal: string | null, stderr: string): string | null {
    const sudo = code === EXIT_SSH_ERROR ? null : explainSudo(this.host, stderr);
    if (sudo !== null) return sudo;
    if (code === EXIT_NOT_FOUND) {
      const last = stderr.trim().split("\n").filter(Boolean).at(-1) ?? "";
      return `a program the connection needs (sh${this.host.sudo ? ", sudo" : ""}) was not found on the host${last === "" ? "" : `: ${last}`}`;
    }
    if (code === EXIT_NODE_TOO_OLD) {
      return nodeTooOld();
    }
    if (code === EXIT_SSH_ERROR) {
      // ssh exits 255 for its own errors (it says which on stderr) and when the
      // remote command was killed by a signal or the connection dropped (silent).
      // Not the reason: ssh's note when two first connections race to become the master.
      const last = stderr
        .trim()
        .split("\n")
        .filter(
          (l) => l !== "" && !/^ControlSocket .* already exists, disabling multiplexing/.test(l),
        )
        .at(-1);
      if (last === undefined) {
        return "connection closed unexpectedly: the helper was killed or the connection dropped (ssh exit status 255)";
      }
      const hint = this.hostKeyHint(stderr);
      return `ssh failed: ${hint === "" ? last : last.replace(/\.$/, "") + hint}`;
    }
    return null;
  }
}

/**
 * The command that removes the known_hosts entry ssh refused, from ssh's own message: it
 * names the file (UserKnownHostsFile) and the name the key is kept under (HostKeyAlias, or
 * "[host]:port"), which a plain `ssh-keygen -R <host>` would miss. Current OpenSSH says
 * "remove with: ssh-keygen -f FILE -R NAME"; where it does not, "Offending ... key in
 * FILE:LINE" and "Host key for NAME has changed" give the same.
 */
export function removeKeyCommand(stderr: string): string {
  const told = /remove with:\s*\n\s*(ssh-keygen -f .+ -R .+?)\s*$/m.exec(
    stderr.replaceAll("\r", ""),
  );
  if (told?.[1] !== undefined) return told[1];
  const file = /^Offending \S+ key in (.+):\d+\s*$/m.exec(stderr.replaceAll("\r", ""))?.[1];
  const name = /^Host key for (\S+) has changed/m.exec(stderr)?.[1];
  if (file !== undefined && name !== undefined) {
    return `ssh-keygen -f ${shellQuote(file)} -R ${shellQuote(name)}`;
  }
  return "ssh-keygen -R <host>";
}
