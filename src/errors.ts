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

export interface Problem {
  /** Where the mistake is; absent for problems without a file (command line). */
  pos?: Position;
  message: string;
}

export function formatProblem(p: Problem): string {
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

/** The stages of one host's sync; a host's error records where it failed. */
export type Stage = "connect" | "info" | "build" | "sync";

/** Failure of one host; the others go on. */
export class HostError extends SafcmError {
  override name = "HostError";
  constructor(
    message: string,
    readonly stage: Stage,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
