// Shell commands on the host: detect_groups (SPEC 3.4), triggers and
// commands.yaml (SPEC 3.5, 5.4). Every command travels as data and reaches
// /bin/sh -c as one argument.

import { spawn } from "node:child_process";
import { accessSync, closeSync, constants as fsConstants, statSync } from "node:fs";
import { constants } from "node:os";
import {
  MAX_OUTPUT,
  type CommandEntry,
  type CommandResult,
  type TriggerEntry,
} from "../protocol/messages.ts";
import { StopError, onStop, stopRequested } from "./abort.ts";
import { quote, silent, type Log } from "./log.ts";
import { PendingJournal, type PendingEntry } from "./pending.ts";
import {
  SYMLINK_IN_PATH,
  SafeFsError,
  describeError,
  lstatAt,
  openDirAt,
  openRoot,
} from "./safe-fs.ts";

export const TRUNCATED_NOTE = "\n[output truncated]";

/** Keeps the first `limit` bytes of a stream; the rest is counted but dropped. */
class Capture {
  private readonly parts: Buffer[] = [];
  private size = 0;
  private truncated = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.parts.push(kept);
    this.size += kept.length;
  }

  text(): string {
    const text = Buffer.concat(this.parts).toString("utf8");
    return this.truncated ? text + TRUNCATED_NOTE : text;
  }
}

export interface ShellOptions {
  /** Extra environment variables (added to the helper's environment). */
  env?: Record<string, string>;
  cwd?: string;
  /** Capture standard error together with standard output, in order. */
  combined: boolean;
  /** Bytes kept of each captured stream (default MAX_OUTPUT). */
  limit?: number;
  /** End the command's whole process group when the helper is told to stop (SPEC 5.5):
   * SIGTERM, then SIGKILL after COMMAND_GRACE_MS. For user commands (detect_groups, triggers,
   * commands.yaml), not for apt-get or systemctl, which are left to finish their change. */
  stoppable?: boolean;
}

/** How long a stopped command's process group has between SIGTERM and SIGKILL. */
export const COMMAND_GRACE_MS = 2000;

export interface ShellResult {
  /** The exit status; 128 + signal number when killed; -1 when it could not be started. */
  exitCode: number;
  stdout: string;
  stderr: string;
}

// With `combined`, an outer shell points its standard error at the pipe of
// standard output and then execs `/bin/sh -c <command>` (the command is the
// positional parameter $1, never pasted into script text): one pipe, so the
// output keeps the order in which the command wrote it.
const COMBINE = 'exec 2>&1; exec /bin/sh -c "$1"';
// The same for a program and its arguments: they are the positional
// parameters, so no shell ever parses them.
const COMBINE_ARGV = 'exec 2>&1; exec "$@"';

/** Runs `/bin/sh -c command` with standard input closed and captures its output. */
export function runShell(command: string, options: ShellOptions): Promise<ShellResult> {
  const args = options.combined ? ["-c", COMBINE, "sh", command] : ["-c", command];
  return capture("/bin/sh", args, options);
}

/**
 * Runs the executable `file` with `args` as its arguments (no shell parses
 * them), standard input closed, and captures its output. Used for dpkg-query,
 * apt-get and systemctl, whose arguments include names from the request.
 */
export function runProgram(
  file: string,
  args: readonly string[],
  options: ShellOptions,
): Promise<ShellResult> {
  if (!options.combined) return capture(file, args, options);
  return capture("/bin/sh", ["-c", COMBINE_ARGV, "sh", file, ...args], options);
}

function capture(
  file: string,
  args: readonly string[],
  options: ShellOptions,
): Promise<ShellResult> {
  const limit = options.limit ?? MAX_OUTPUT;
  return new Promise((resolve) => {
    const stdout = new Capture(limit);
    // Combined: standard error holds only what the outer shell itself says.
    const stderr = new Capture(options.combined ? 512 : limit);
    let settled = false;
    const finish = (exitCode: number, extra?: string): void => {
      if (settled) return;
      settled = true;
      const err = stderr.text() + (extra ?? "");
      resolve({ exitCode, stdout: stdout.text(), stderr: err });
    };
    const stoppable = options.stoppable === true;
    const child = spawn(file, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      // Its own session and process group, so that a stop reaches every process it started.
      detached: stoppable,
    });
    const group = child.pid;
    let stopped = false;
    let killTimer: NodeJS.Timeout | undefined;
    const removeStop =
      stoppable && group !== undefined
        ? onStop(() => {
            stopped = true;
            signalGroup(group, "SIGTERM");
            killTimer = setTimeout(() => signalGroup(group, "SIGKILL"), COMMAND_GRACE_MS);
          })
        : () => undefined;
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (err) => finish(-1, `cannot run ${file}: ${err.message}`));
    child.on("close", (code, signal) => {
      removeStop();
      clearTimeout(killTimer);
      // A stopped command leaves nothing behind, not even a process that ignored SIGTERM
      // after the shell ended.
      if (stopped && group !== undefined) signalGroup(group, "SIGKILL");
      if (code !== null) finish(code);
      else finish(signal !== null ? 128 + (constants.signals[signal] ?? 0) : -1);
    });
  });
}

/** Sends `signal` to every process of the process group `group`; one that is gone is fine. */
function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // ESRCH: the group has ended
  }
}

/**
 * The full path of the executable `name` in the helper's PATH (the first
 * directory that has it as an executable regular file), or null. How the
 * helper decides whether a host has dpkg, apt or systemd's tools.
 */
export function findExecutable(name: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(":")) {
    if (!dir.startsWith("/")) continue; // a relative PATH entry depends on the cwd: skip it
    const file = `${dir.replace(/\/+$/, "")}/${name}`;
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not there or not executable: try the next directory
    }
  }
  return null;
}

/** Whether `trigger` (a path of triggers.yaml) covers `path`: the path itself or below it. */
export function covers(trigger: string, path: string): boolean {
  return path === trigger || path.startsWith(trigger === "/" ? "/" : trigger + "/");
}

export interface PlannedCommand {
  command: string;
  trigger: string | null;
  /** A trigger that did not fire in this sync but was left pending by an earlier one. */
  pending?: true;
  /** commands.yaml's guard (SPEC 3.5). */
  creates?: string;
  unless?: string;
}

/**
 * The commands to run after the files: each fired trigger's commands and
 * each pending one that is still configured (in sorted trigger path order,
 * each command string at most once), then commands.yaml in order.
 */
export function planCommands(
  triggers: readonly TriggerEntry[],
  commands: readonly CommandEntry[],
  changes: readonly { path: string }[],
  pending: readonly PendingEntry[] = [],
): PlannedCommand[] {
  const planned: PlannedCommand[] = [];
  const seen = new Set<string>();
  const sorted = [...triggers].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const trigger of sorted) {
    const fired = changes.some((change) => covers(trigger.path, change.path));
    for (const command of trigger.commands) {
      if (seen.has(command)) continue;
      const left = pending.some((p) => p.path === trigger.path && p.command === command);
      if (!fired && !left) continue;
      seen.add(command);
      planned.push(
        fired
          ? { command, trigger: trigger.path }
          : { command, trigger: trigger.path, pending: true },
      );
    }
  }
  for (const { run, ...guard } of commands) planned.push({ command: run, trigger: null, ...guard });
  return planned;
}

/** Pending entries whose trigger path no longer has that command (SPEC 3.5: dropped). */
export function unconfigured(
  triggers: readonly TriggerEntry[],
  pending: readonly PendingEntry[],
): PendingEntry[] {
  return pending.filter(
    (p) => !triggers.some((t) => t.path === p.path && t.commands.includes(p.command)),
  );
}

export interface CommandsInput {
  root: string;
  /** False in dry-run: list what would run, run nothing (as the other steps' `apply`). */
  apply: boolean;
  triggers: TriggerEntry[];
  commands: CommandEntry[];
  /** The file changes of this sync (what fires triggers). */
  changes: readonly { path: string }[];
  /** The host's pending triggers (default: none, kept in memory). Triggers that run
   * successfully leave it, and so do pending ones no longer configured. */
  pending?: PendingJournal;
  log?: Log;
}

export interface CommandsResult {
  results: CommandResult[];
  error: string | null;
}

/**
 * Whether `path` (absolute, on the host) exists below `root`: walked one
 * component at a time by descriptor, never following a symbolic link (one in
 * the path is an error; the last component may be one, and then exists).
 */
export function existsBelow(root: string, path: string): boolean {
  const names = path.split("/").filter((n) => n !== "");
  let fd = openRoot(root);
  try {
    for (const [i, name] of names.entries()) {
      const st = lstatAt(fd, name);
      if (st === null) return false;
      if (i === names.length - 1) return true;
      if (st.isSymbolicLink()) throw new SafeFsError(SYMLINK_IN_PATH);
      if (!st.isDirectory()) return false;
      const next = openDirAt(fd, name);
      closeSync(fd);
      fd = next;
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

/** A guard that skips `planned` (creates: checked in dry-run too; unless: only run for real). */
async function guard(
  planned: PlannedCommand,
  input: CommandsInput,
  shell: Pick<ShellOptions, "env" | "cwd">,
  log: Log,
): Promise<"creates" | "unless" | null> {
  const what = `command ${quote(planned.command)}`;
  if (planned.creates !== undefined) {
    let exists: boolean;
    try {
      exists = existsBelow(input.root, planned.creates);
    } catch (err) {
      throw new GuardError(`${what}: creates ${quote(planned.creates)}: ${describeError(err)}`);
    }
    log("debug", `${what}: ${quote(planned.creates)} ${exists ? "exists" : "does not exist"}`);
    return exists ? "creates" : null;
  }
  if (planned.unless === undefined || !input.apply) return null;
  log("debug", `${what}: running unless ${quote(planned.unless)}`);
  const run = await runShell(planned.unless, { ...shell, combined: true, stoppable: true });
  log("debug", `${what}: unless ${quote(planned.unless)} exited with status ${run.exitCode}`);
  if (stopRequested()) throw new GuardError(`interrupted: unless of ${what} was ended`);
  return run.exitCode === 0 ? "unless" : null;
}

/** A guard that could not be checked, or was ended by a stop: stops the host. */
class GuardError extends Error {}

/**
 * Runs the fired and pending triggers and then commands.yaml; in dry-run only
 * lists them (exit_code and output null). A command whose guard says so is
 * skipped. A non-zero exit status stops with an error; the command's output
 * is in its result. A trigger command that succeeded leaves the pending
 * journal, which is saved once the triggers are done (or one failed).
 */
export async function runCommands(input: CommandsInput): Promise<CommandsResult> {
  const log = input.log ?? silent;
  const journal = input.pending ?? PendingJournal.memory(input.root);
  const results: CommandResult[] = [];
  const env: Record<string, string> = {};
  let cwd: string | undefined;
  if (input.root !== "/") {
    env.SAFCM_ROOT = input.root;
    cwd = input.root;
  }
  for (const entry of unconfigured(input.triggers, journal.list())) {
    const what = `pending trigger ${quote(entry.command)} for ${quote(entry.path)} from an earlier sync`;
    log("info", `${what} is no longer configured; ${input.apply ? "dropped" : "a sync drops it"}`);
    if (input.apply) journal.drop(entry);
  }
  const plan = planCommands(input.triggers, input.commands, input.changes, journal.list());
  // Done with the triggers (all ran, or one failed): what succeeded leaves the journal.
  const triggersDone = (): void => {
    if (!input.apply) return;
    const error = journal.save();
    if (error !== null) {
      log(
        "info",
        `warning: cannot update the pending-trigger journal ${error}; triggers that ran may run again`,
      );
    }
  };
  try {
    for (const planned of plan) {
      const { command, trigger } = planned;
      if (trigger === null) triggersDone();
      // Told to stop (SPEC 5.5): no further command or trigger runs.
      if (stopRequested() && input.apply) return { results, error: new StopError().message };
      const what =
        trigger === null
          ? `command ${quote(command)}`
          : `command ${quote(command)} (trigger for ${quote(trigger)}${planned.pending ? ", pending from an earlier sync" : ""})`;
      const result: CommandResult = { command, trigger, exit_code: null, output: null };
      if (planned.creates !== undefined) result.creates = planned.creates;
      if (planned.unless !== undefined) result.unless = planned.unless;
      if (planned.pending) result.pending = true;
      let skipped: "creates" | "unless" | null;
      try {
        skipped = await guard(planned, input, { env, cwd }, log);
      } catch (err) {
        return { results, error: describeError(err) };
      }
      if (skipped !== null) {
        log(
          "verbose",
          `skipped ${what}: ${skipped === "creates" ? `${quote(planned.creates ?? "")} exists` : `unless ${quote(planned.unless ?? "")} exited 0`}`,
        );
        results.push({ ...result, skipped });
        continue;
      }
      if (!input.apply) {
        log("verbose", `would run ${what}`);
        results.push(result);
        continue;
      }
      log("verbose", `running ${what}`);
      const commandEnv = trigger === null ? env : { ...env, SAFCM_TRIGGER: trigger };
      const run = await runShell(command, {
        env: commandEnv,
        cwd,
        combined: true,
        stoppable: true,
      });
      const output = run.stdout + run.stderr;
      results.push({ ...result, exit_code: run.exitCode, output });
      log("debug", `${what} exited with status ${run.exitCode}`);
      if (stopRequested()) return { results, error: `interrupted: ${what} was ended` };
      if (run.exitCode !== 0)
        return { results, error: `${what} failed with exit status ${run.exitCode}` };
      if (trigger !== null) journal.clear(command);
    }
    return { results, error: null };
  } finally {
    triggersDone();
  }
}
