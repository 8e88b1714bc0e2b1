import { spawn } from "node:child_process";
import { userInfo } from "node:os";
import { EXIT_NODE_TOO_OLD, explainSudo, helperCommand, nodeTooOld } from "./bootstrap.ts";
import type { HelperProcess, Transport, TransportHost } from "./transport.ts";

/** `connection: local`: the helper is a child process of safcm. */
export class LocalTransport implements Transport {
  constructor(readonly host: TransportHost) {}

  start(helperLength: number): HelperProcess {
    const [program, ...args] = helperCommand(this.host, helperLength);
    return spawn(program, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: helperEnvironment(),
      // Its own process group: Ctrl-C on a terminal reaches safcm only, which stops the
      // helper cleanly and still receives its report (SPEC 5.5).
      detached: true,
    });
  }

  prepare(): Promise<void> {
    return Promise.resolve();
  }

  reuse(): string | null {
    return null;
  }

  explainExit(code: number | null, _signal: string | null, stderr: string): string | null {
    const sudo = explainSudo(this.host, stderr);
    if (sudo !== null) return sudo;
    if (code === EXIT_NODE_TOO_OLD) {
      return nodeTooOld();
    }
    return null;
  }
}

interface LoginUser {
  username: string;
  homedir: string;
  shell: string | null;
}

/** The password database's entry of safcm's user (the environment's word only without one). */
function loginUser(env: NodeJS.ProcessEnv): LoginUser {
  try {
    return userInfo();
  } catch {
    // A uid without a passwd entry (containers): nothing better to say.
    return { username: env.USER ?? env.LOGNAME ?? "", homedir: env.HOME ?? "/", shell: null };
  }
}

/** What passes from the workstation's environment: what ssh sends (SendEnv LANG LC_*). */
const KEPT = /^(LANG|LANGUAGE|LC_[A-Z_]+)$/;

/**
 * The environment of the local helper, and so of every command, trigger and
 * detect_groups command (SPEC 3.5): what a login over ssh would give it, never
 * the workstation's own. safcm's environment holds what `!env` secrets are
 * read from, tokens, SSH_AUTH_SOCK, NODE_OPTIONS ...; none of it must reach a
 * managed host's processes. PATH stays the workstation's (it is this machine,
 * and it finds `node`); HOME, USER, LOGNAME and SHELL come from the password
 * database for the user safcm runs as, as sshd (and sudo, for `sudo: true`)
 * would set them.
 */
export function helperEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  user: LoginUser = loginUser(env),
): Record<string, string> {
  const out: Record<string, string> = {
    PATH: env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: user.homedir,
    USER: user.username,
    LOGNAME: user.username,
    SHELL: user.shell ?? "/bin/sh",
  };
  for (const [name, value] of Object.entries(env)) {
    if (KEPT.test(name) && value !== undefined) out[name] = value;
  }
  return out;
}
