// The bootstrap, in two parts. The sh part (bootstrap-sh.ts) picks the Node.js
// that runs the helper. The JavaScript part: a fixed, small program given to
// that Node.js with `node -e`. It reads exactly <length> bytes of helper source from stdin,
// evaluates them (the bundle is a function expression taking `require`) and
// leaves the rest of stdin to the helper, which reads frames from it. Nothing
// is written to the host's disk. It is written for very old Node.js versions
// too (var, no arrows) so that an old one fails with our message, not a
// syntax error.

import { readFileSync } from "node:fs";
import { packageFile } from "../paths.ts";
import {
  RUNTIME_ARCHES,
  RUNTIME_VERSION,
  runtimeSha512Hex,
  type RuntimeArch,
} from "../runtime/pin.ts";
import { BOOTSTRAP_SH, STATUS_PREFIX } from "./bootstrap-sh.ts";
import type { RuntimeInfo, TransportHost } from "./transport.ts";

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

/**
 * The command (program and arguments) that starts the sh bootstrap, which then
 * starts the helper (see bootstrap-sh.ts); through `sudo -n` if asked.
 */
export function helperCommand(host: TransportHost, helperLength: number): string[] {
  const command = [
    "sh",
    "-c",
    BOOTSTRAP_SH,
    "safcm-bootstrap",
    host.runtime,
    host.node,
    RUNTIME_VERSION,
    runtimeSha512Hex("x64"),
    runtimeSha512Hex("arm64"),
    String(helperLength),
    BOOTSTRAP,
  ];
  return host.sudo ? ["sudo", "-n", ...command] : command;
}

/** What the bootstrap said on its status line. */
export type BootstrapStatus =
  | { type: "run"; runtime: RuntimeInfo }
  | { type: "upload"; arch: RuntimeArch }
  | { type: "fail"; reason: string; detail: string };

/** The longest status line accepted from a host. */
export const MAX_STATUS_LINE = 1024;

/** Parses one status line from the host (untrusted); null when it is not one. */
export function parseStatus(line: string): BootstrapStatus | null {
  if (!line.startsWith(STATUS_PREFIX) || !/^[\x20-\x7e]*$/.test(line)) return null;
  const [type, a = "", b = "", ...rest] = line.slice(STATUS_PREFIX.length).split(" ");
  if (type === "run") {
    const [version = "", how = ""] = [b, rest[0] ?? ""];
    if (rest.length !== 1 || !/^\d{1,4}\.\d{1,4}\.\d{1,4}(-[\w.]{1,40})?$/.test(version))
      return null;
    if (a === "host" && how === "-") {
      return { type, runtime: { kind: "host", version, uploaded: false } };
    }
    if (
      a === "bundled" &&
      version === RUNTIME_VERSION &&
      (how === "present" || how === "uploaded")
    ) {
      return { type, runtime: { kind: "bundled", version, uploaded: how === "uploaded" } };
    }
    return null;
  }
  if (type === "upload" && b === "" && (RUNTIME_ARCHES as readonly string[]).includes(a)) {
    return { type, arch: a as RuntimeArch };
  }
  if (type === "fail" && /^[a-z]{1,20}$/.test(a)) {
    return { type, reason: a, detail: [b, ...rest].join(" ").trim() };
  }
  return null;
}

/** Where the host's Node.js is missing or too old, the bundled runtime is the easy way: the
 * nodejs package of several current distributions is older than 18, so "apt-get install
 * nodejs" is no advice (issue 19). */
const USE_BUNDLED = `use "runtime: auto" or "bundled" in hosts.yaml (safcm then brings its own Node.js ${RUNTIME_VERSION})`;
const DISTRIBUTION_NODE = `the nodejs package of Debian 11 and Ubuntu 22.04 is Node.js 12, too old`;

/** The host's Node.js (version `version`, or "older than 18" when unknown) is too old. */
export function nodeTooOld(version?: string): string {
  const is = version === undefined ? "older than 18" : `${version}, older than 18`;
  return `Node.js on the host is ${is}; ${USE_BUNDLED}, or install Node.js >= 18 (${DISTRIBUTION_NODE})`;
}

/** One sentence for a "fail" status of the bootstrap. */
export function explainBootstrapFailure(
  host: TransportHost,
  reason: string,
  detail: string,
): string {
  const instead = `install Node.js >= 18 on the host and set "runtime: host"`;
  const bundled = `the bundled runtime (Node.js ${RUNTIME_VERSION}) needs Linux on x86_64 or aarch64 with glibc >= 2.28`;
  switch (reason) {
    case "nonode":
      return `Node.js ("${host.node}") not found on the host; ${USE_BUNDLED}, or install Node.js >= 18 and set "node" in hosts.yaml (${DISTRIBUTION_NODE})`;
    case "oldnode":
      return nodeTooOld(detail === "" ? "unusable" : detail);
    case "arch":
      return `this host's architecture is "${detail}"; ${bundled}: ${instead}`;
    case "musl":
      return `this host uses the musl C library; ${bundled}: ${instead}`;
    case "glibc":
      return `this host has glibc ${detail}; ${bundled}: ${instead}`;
    case "libc":
      return `could not tell this host's C library (getconf GNU_LIBC_VERSION failed${detail === "unknown" ? "" : `, it said "${detail}"`}); ${bundled}: ${instead}`;
    case "tool":
      return `"${detail}" is missing on the host; the bundled runtime needs sh and the base utilities (coreutils or busybox, tar, gzip)`;
    case "home":
      return `the login user has no absolute HOME, where the bundled runtime would go without root`;
    case "unsafe":
      return `"${detail}" is not a directory owned by root (or the login user) and writable by nobody else; the bundled runtime below it could be replaced by others, so it is not used`;
    case "short":
      return `the upload of the bundled runtime ended early (connection closed?); nothing was installed`;
    case "verify":
      return `the bundled runtime arrived on the host with the wrong checksum; nothing was installed or run`;
    case "extract":
      return `could not unpack the bundled runtime on the host (tar -xz failed)`;
    case "install":
      return `could not install the bundled runtime in "${detail}"`;
    default:
      return `the bootstrap failed: ${reason} ${detail}`.trim();
  }
}

/**
 * Puts a failure of `sudo -n` into one sentence, or null when stderr does not
 * come from sudo. sudo -n exits 1 with "sudo: a password is required" where it
 * would prompt (also for a user sudo does not allow at all). sudo may print
 * warnings before its error ("sudo: unable to resolve host web1: Name or service
 * not known" where the host's own name does not resolve): the password case is
 * found on any line, and otherwise the last of sudo's lines, its error, is named.
 */
export function explainSudo(host: TransportHost, stderr: string): string | null {
  if (!host.sudo) return null;
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("sudo:") || l.startsWith("[sudo]"));
  const last = lines.at(-1);
  if (last === undefined) return null;
  if (lines.some((l) => l.includes("password is required") || /^\[sudo\] password for /.test(l))) {
    const who = host.sshUser ?? "the login user";
    return (
      `sudo on this host asks ${who} for a password, and safcm runs "sudo -n", which never prompts: ` +
      `allow it without a password (a sudoers rule such as "${host.sshUser ?? "<user>"} ALL=(root) NOPASSWD: ALL" ` +
      `in /etc/sudoers.d/, edited with visudo) or log in as root (ssh_user: root, sudo: false)`
    );
  }
  return `sudo failed: ${last}`;
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
