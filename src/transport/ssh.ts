import { spawn } from "node:child_process";
import {
  EXIT_NODE_TOO_OLD,
  EXIT_NOT_FOUND,
  explainSudo,
  helperCommand,
  shellQuote,
} from "./bootstrap.ts";
import type { HelperProcess, Transport, TransportHost } from "./transport.ts";

/** ssh's own exit status for connection and authentication errors. */
const EXIT_SSH_ERROR = 255;

/** `connection: ssh`: the system's ssh, so the user's configuration, agent and known_hosts apply. */
export class SshTransport implements Transport {
  constructor(readonly host: TransportHost) {}

  start(helperLength: number): HelperProcess {
    const args = ["-o", "BatchMode=yes", "-T"];
    if (this.host.sshConfig !== null) args.push("-F", this.host.sshConfig);
    if (this.host.sshUser !== null) args.push("-l", this.host.sshUser);
    const remote = ["exec", ...helperCommand(this.host, helperLength).map(shellQuote)];
    args.push("--", this.host.name, remote.join(" "));
    return spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
  }

  /** What to do about a host key ssh refused (BatchMode never asks), or "". */
  private hostKeyHint(stderr: string): string {
    const ssh = `ssh${this.host.sshConfig === null ? "" : ` -F ${this.host.sshConfig}`} ${this.host.name}`;
    if (/REMOTE HOST IDENTIFICATION HAS CHANGED|host key for .* has changed/i.test(stderr)) {
      return (
        `: the host key of ${this.host.name} has changed; if that is expected, remove the old key ` +
        `(ssh-keygen -R <host>) and run "${ssh}" once to check and accept the new one`
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
      return `Node.js on the host is older than 18; install a newer one (e.g. apt-get install nodejs)`;
    }
    if (code === EXIT_SSH_ERROR) {
      // ssh exits 255 for its own errors (it says which on stderr) and when the
      // remote command was killed by a signal or the connection dropped (silent).
      const last = stderr.trim().split("\n").filter(Boolean).at(-1);
      if (last === undefined) {
        return "connection closed unexpectedly: the helper was killed or the connection dropped (ssh exit status 255)";
      }
      const hint = this.hostKeyHint(stderr);
      return `ssh failed: ${hint === "" ? last : last.replace(/\.$/, "") + hint}`;
    }
    return null;
  }
}
