// validate.yaml (SPEC 3.5): a command checks a new file before it replaces
// the old one. It runs once the temporary file has its content, final owner
// and mode, before the rename; `%s` names that file as the helper's own
// /proc/<pid>/fd/<n> of the open temporary file, a path that no user of the
// host can point elsewhere (the temporary file's name lies in a directory
// that others may be able to write). A non-zero exit keeps the old file: the
// caller removes the temporary one and stops with this error.
//
// The file engine is synchronous, so the command runs with spawnSync: the
// helper waits for it, and a command that runs longer than VALIDATE_TIMEOUT_MS
// is ended and counts as failed (checks such as `sshd -t` or `visudo -c` take
// milliseconds; the local side would give up on a silent helper after two
// minutes).

import { spawnSync } from "node:child_process";
import { MAX_OUTPUT } from "../protocol/messages.ts";
import { quote } from "./log.ts";
import { errnoCode } from "./safe-fs.ts";

/** How long a validate command may run before it is ended (and fails). */
export const VALIDATE_TIMEOUT_MS = 60_000;

/** What stands for the new file in a validate command. */
export const PLACEHOLDER = "%s";

/** A validate command that failed: the message says which and shows its output. */
export class ValidateError extends Error {
  override name = "ValidateError";
}

/** The path by which another process opens the file this process holds open as `fd`. */
export function fdPath(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`;
}

// As commands.ts: standard error joins standard output in the order written,
// and the command is the positional parameter $1, never pasted into a script.
const COMBINE = 'exec 2>&1; exec /bin/sh -c "$1"';

/**
 * Runs `command` (`/bin/sh -c`, standard input closed) with every `%s`
 * replaced by the path of the open temporary file `fd`; throws
 * ValidateError unless it exits 0.
 */
export function validateFile(fd: number, command: string): void {
  const run = spawnSync(
    "/bin/sh",
    ["-c", COMBINE, "sh", command.replaceAll(PLACEHOLDER, fdPath(fd))],
    {
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: MAX_OUTPUT,
      timeout: VALIDATE_TIMEOUT_MS,
      killSignal: "SIGKILL",
    },
  );
  if (run.status === 0) return;
  const output = `${run.stdout?.toString("utf8") ?? ""}${run.stderr?.toString("utf8") ?? ""}`;
  const code = errnoCode(run.error);
  let why: string;
  if (code === "ETIMEDOUT") why = `ran longer than ${VALIDATE_TIMEOUT_MS / 1000} s and was ended`;
  else if (code === "ENOBUFS") why = `wrote more than ${MAX_OUTPUT} bytes and was ended`;
  else if (run.error !== undefined) why = `could not be run: ${run.error.message}`;
  else if (run.status !== null) why = `failed with exit status ${run.status}`;
  else why = `was killed by ${run.signal ?? "a signal"}`;
  const shown = output.trimEnd();
  throw new ValidateError(
    `validate command ${quote(command)} ${why}; the old file is kept${shown === "" ? "" : `:\n${shown}`}`,
  );
}
