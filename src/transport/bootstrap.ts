// The bootstrap: a fixed, small program given to the host's Node.js with
// `node -e`. It reads exactly <length> bytes of helper source from stdin,
// evaluates them (the bundle is a function expression taking `require`) and
// leaves the rest of stdin to the helper, which reads frames from it. Nothing
// is written to the host's disk. It is written for very old Node.js versions
// too (var, no arrows) so that an old one fails with our message, not a
// syntax error.

import { readFileSync } from "node:fs";
import { packageFile } from "../paths.ts";
import type { TransportHost } from "./transport.ts";

/** Exit status of the bootstrap when the host's Node.js is older than 18. */
export const EXIT_NODE_TOO_OLD = 97;
/** Exit status when stdin ended before the helper source was complete. */
export const EXIT_SHORT_HELPER = 98;
/** What a POSIX shell returns for a command it cannot find. */
export const EXIT_NOT_FOUND = 127;

export const BOOTSTRAP =
  "var v=process.versions.node;" +
  `if(+v.split(".")[0]<18){process.stderr.write("safcm: Node.js "+v+" is too old, safcm needs Node.js >= 18\\n");process.exit(${EXIT_NODE_TOO_OLD})}` +
  'var fs=require("fs"),n=+process.argv[1],b=Buffer.alloc(n),o=0,r;' +
  'while(o<n){try{r=fs.readSync(0,b,o,n-o,null)}catch(e){if(e.code==="EAGAIN")continue;throw e}' +
  `if(r===0)process.exit(${EXIT_SHORT_HELPER});o+=r}` +
  'require("vm").runInThisContext(b.toString("utf8"),{filename:"safcm-helper.js"})(require)';

let bundle: Buffer | undefined;

/** The helper bundle built by `npm run build` (dist/remote.js), read once. */
export function helperBundle(): Buffer {
  bundle ??= readFileSync(packageFile("dist/remote.js"));
  return bundle;
}

/** Arguments after the node executable that start the helper. */
export function bootstrapArgs(helperLength: number): string[] {
  return ["-e", BOOTSTRAP, String(helperLength)];
}

/** The command (program and arguments) that starts the helper, through `sudo -n` if asked. */
export function helperCommand(host: TransportHost, helperLength: number): string[] {
  const command = [host.node, ...bootstrapArgs(helperLength)];
  return host.sudo ? ["sudo", "-n", ...command] : command;
}

/**
 * Puts a failure of `sudo -n` into one sentence, or null when stderr does not
 * come from sudo. sudo -n exits 1 with "sudo: a password is required" where it
 * would prompt (also for a user sudo does not allow at all).
 */
export function explainSudo(host: TransportHost, stderr: string): string | null {
  if (!host.sudo) return null;
  const line = stderr
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("sudo:"));
  if (line === undefined) return null;
  if (line.includes("password is required")) {
    const who = host.sshUser ?? "the login user";
    return (
      `sudo on this host asks ${who} for a password, and safcm runs "sudo -n", which never prompts: ` +
      `allow it without a password (a sudoers rule such as "${host.sshUser ?? "<user>"} ALL=(root) NOPASSWD: ALL" ` +
      `in /etc/sudoers.d/, edited with visudo) or log in as root (ssh_user: root, sudo: false)`
    );
  }
  return `sudo failed: ${line}`;
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
