// The small error family. The CLI picks the presentation and the exit status:
// ConfigError -> 2 (nothing contacted), HostError -> that host failed (1),
// anything else is an internal error (stack shown at log level debug).

export class SafcmError extends Error {
  override name = "SafcmError";
}

/** A position in a configuration file; line and col are 1-based. */
export interface Position {
  file: string;
  line?: number;
  col?: number;
}

/**
 * Stable names of configuration and command-line mistakes (as eemeli/yaml's error codes):
 * tests and tools match the code and the position, the message is for people and may
 * be reworded. Keep a code once it is published; add new ones rather than reuse.
 */
export type ProblemCode =
  /** YAML the parser rejects (the message is the yaml package's). */
  | "yaml-syntax"
  /** A key twice in one mapping. */
  | "duplicate-key"
  /** A tag other than vars.yaml's !env and !command on a string. */
  | "unknown-tag"
  /** A key a mapping does not know (a typo, or a key of another file). */
  | "unknown-key"
  /** A required key is missing (a host without "name"). */
  | "missing-key"
  /** A value of the wrong YAML type: mapping, list, string, boolean. */
  | "wrong-type"
  /** A value of the right type outside what is allowed: an unknown choice, out of range,
   * empty, control characters, a bad ignore pattern or secret tag. */
  | "bad-value"
  /** vars.yaml expands to more values than MAX_VAR_NODES (alias bombs). */
  | "too-large"
  /** A name of a host, group, variable, package, service or ssh_user that breaks its rule. */
  | "bad-name"
  /** A host, or a group of group_order, listed twice. */
  | "duplicate"
  /** A reference to no host or group (group_order, members, _remove, command-line targets). */
  | "unknown-name"
  /** Groups that contain each other. */
  | "cycle"
  /** A file or directory that cannot be read or listed. */
  | "unreadable"
  /** A file that must exist does not (the configuration directory, hosts.yaml, ssh_config). */
  | "not-found"
  /** An entry of the configuration directory or a group directory that means nothing. */
  | "unexpected-entry"
  /** A file of the wrong type: a directory where a regular file belongs, a FIFO in files/. */
  | "wrong-file-type"
  /** A symbolic link target or a template that is not UTF-8. */
  | "not-utf8"
  /** A local file or directory writable by group or others (fix: safcm fixperms). */
  | "unsafe-permissions"
  /** A path key of permissions/templates/triggers.yaml that is relative or not normalized. */
  | "bad-path"
  /** A path key that names nothing in the group's files/ (missing or ignored). */
  | "missing-path"
  /** A permissions.yaml value: mode, user or group. */
  | "bad-permission"
  /** A LiquidJS template that does not parse. */
  | "template-syntax"
  /** An !env variable that is not set, or an !command that failed. */
  | "secret-unavailable"
  /** safcm fixperms could not change a mode, or a file changed while it ran. */
  | "fixperms-failed"
  /** A mistake on the command line or in safcm's environment variables. */
  | "usage";

export interface Problem {
  code: ProblemCode;
  /** Where the mistake is; absent for problems without a file (command line). */
  pos?: Position;
  message: string;
}

export function formatProblem(p: Omit<Problem, "code">): string {
  if (p.pos === undefined) return p.message;
  const where = [p.pos.file, p.pos.line, p.pos.col].filter((x) => x !== undefined).join(":");
  return `${where}: ${p.message}`;
}

/** One or more mistakes in the configuration or on the command line (exit status 2). */
export class ConfigError extends SafcmError {
  override name = "ConfigError";
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
}

/** The stages of one host's sync; a host's result records where it failed. */
export type Stage = "connect" | "info" | "build" | "sync";

/**
 * Failure of one host, the others go on: a message for the user, never a stack. It carries
 * no stage: the stage runner of src/session/host.ts labels a failure with the stage that
 * was running, whoever threw it.
 */
export class HostError extends SafcmError {
  override name = "HostError";
}
