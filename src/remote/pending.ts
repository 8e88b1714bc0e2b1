// Pending triggers (SPEC 3.5 "A fired trigger is never lost", 5.7): before
// the first change that fires a trigger is applied, its commands are recorded
// in a journal on the host; a command leaves the journal only once it has run
// successfully. A sync that fails, is interrupted or loses its connection
// after the change leaves them there, and the next sync runs them.
//
// The journal lives in the helper's state directory, /var/lib/safcm as root,
// else ~/.local/state/safcm; a `root:` other than "/" has a journal of its own,
// named by a hash of that path (the path itself is inside). Every directory on
// the way is walked by descriptor and must be owned by root or the helper's
// user and writable by nobody else, as the bundled runtime's (5.6): a journal
// that others could write would make the helper run commands of their choice.
// The file exists only while something is pending; it is replaced by
// update-by-rename with fsync (safe-fs.ts), and removed (the directory
// fsynced) when nothing is left. A journal that cannot be read or is not what
// the helper writes is a warning, never a reason to fail: it is treated as
// empty and replaced.

import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, constants, type Stats } from "node:fs";
import { homedir } from "node:os";
import type { TriggerEntry } from "../protocol/messages.ts";
import { quote, type Log } from "./log.ts";
import {
  describeError,
  errnoCode,
  lstatAt,
  mkdirAt,
  openDirAt,
  openForCompare,
  readAll,
  unlinkAt,
  writeFileAt,
} from "./safe-fs.ts";

/** A trigger command that fired and has not run successfully since. */
export interface PendingEntry {
  /** The triggers.yaml path that fired (as written there, not prefixed with root). */
  path: string;
  command: string;
}

/**
 * Where the journal's directory is: `base` is opened as it is (trusted, like a
 * host's root), `names` are walked below it one at a time. The helper's own
 * is hostStateDir(); tests give one below a temporary directory.
 */
export interface StateDir {
  base: string;
  names: string[];
}

/** The journal's format version (the file says which it is). */
const VERSION = 1;
/** A journal larger than this is not one the helper wrote. */
const MAX_JOURNAL = 4 * 1024 * 1024;
/** Mode of a directory the helper creates on the way (as the runtime's, SPEC 5.6). */
const DIR_MODE = 0o755;

function self(): { uid: number; gid: number } {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
}

/**
 * The helper's state directory (SPEC 5.7): /var/lib/safcm as root, else the
 * login user's ~/.local/state/safcm. Null when a non-root helper has no
 * absolute home directory.
 */
export function hostStateDir(): StateDir | null {
  if (self().uid === 0) return { base: "/", names: ["var", "lib", "safcm"] };
  let home: string;
  try {
    home = homedir();
  } catch {
    return null;
  }
  if (!home.startsWith("/")) return null;
  const names = home.split("/").filter((n) => n !== "" && n !== ".");
  if (names.includes("..")) return null;
  return { base: "/", names: [...names, ".local", "state", "safcm"] };
}

/** The journal's file name for a host's root: one per root (SPEC 5.7). */
export function journalName(root: string): string {
  if (root === "/") return "pending-triggers.json";
  const key = createHash("sha256").update(root).digest("hex").slice(0, 16);
  return `pending-triggers-${key}.json`;
}

function display(state: StateDir, name?: string): string {
  const base = state.base.replace(/\/+$/, "");
  return [base, ...state.names, ...(name === undefined ? [] : [name])].join("/") || "/";
}

/** An entry the helper may trust: owned by root or itself, writable by nobody else. */
function trusted(st: Stats): boolean {
  return (st.uid === 0 || st.uid === self().uid) && (st.mode & 0o022) === 0;
}

/** The journal's directory is not where the helper may keep state. */
class UnsafeState extends Error {}

function unsafe(path: string): UnsafeState {
  return new UnsafeState(
    `${quote(path)} is not a directory owned by root (or the helper's user) and writable by nobody else`,
  );
}

/**
 * Opens the state directory, walking `names` below `base` without following
 * symlinks and checking each directory; creates what is missing when
 * `create`. Null when it does not exist (and `create` is false).
 */
function openStateDir(state: StateDir, create: boolean): number | null {
  let fd = openSync(state.base, constants.O_RDONLY | constants.O_DIRECTORY);
  let path = state.base.replace(/\/+$/, "");
  try {
    if (state.base === "/" && !trusted(fstatSync(fd))) throw unsafe("/");
    for (const name of state.names) {
      path += `/${name}`;
      let next: number;
      try {
        next = openDirAt(fd, name);
      } catch (err) {
        if (lstatAt(fd, name) !== null) throw err;
        if (!create) {
          closeSync(fd);
          return null;
        }
        try {
          const { uid, gid } = self();
          next = mkdirAt(fd, name, DIR_MODE, uid, gid);
        } catch (mkdirErr) {
          // Made by another sync at the same moment: use that one (it is checked below).
          if (errnoCode(mkdirErr) !== "EEXIST") throw mkdirErr;
          next = openDirAt(fd, name);
        }
      }
      closeSync(fd);
      fd = next;
      if (!trusted(fstatSync(fd))) throw unsafe(path);
    }
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The entries of a journal's text, or a reason why it is not a journal of this root. */
function parseJournal(text: string, root: string): PendingEntry[] | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return "not valid JSON";
  }
  const o = data as { version?: unknown; root?: unknown; pending?: unknown };
  if (typeof data !== "object" || data === null || o.version !== VERSION)
    return `not a journal of version ${VERSION}`;
  if (o.root !== root) return "written for another root";
  if (!Array.isArray(o.pending)) return "no list of pending triggers";
  const entries: PendingEntry[] = [];
  for (const item of o.pending as unknown[]) {
    const e = item as { path?: unknown; command?: unknown };
    if (
      typeof item !== "object" ||
      item === null ||
      typeof e.path !== "string" ||
      !e.path.startsWith("/") ||
      typeof e.command !== "string"
    ) {
      return "an entry is not a path and a command";
    }
    entries.push({ path: e.path, command: e.command });
  }
  return entries;
}

/** The journal's text for `entries` of `root`; "" (no file) when nothing is pending. */
function serialize(root: string, entries: readonly PendingEntry[]): string {
  if (entries.length === 0) return "";
  return JSON.stringify({ version: VERSION, root, pending: entries }) + "\n";
}

function key(e: PendingEntry): string {
  return JSON.stringify([e.path, e.command]);
}

/**
 * The pending triggers of one root. Without a StateDir (the helper's unit
 * tests) it is kept in memory only; the helper's main always gives its own.
 */
export class PendingJournal {
  private entries: PendingEntry[];
  private written: string | null;

  private constructor(
    private readonly root: string,
    private readonly state: StateDir | null,
    entries: PendingEntry[],
    /** What the file holds: "" no file, null unknown (a broken journal, to be replaced). */
    written: string | null,
    /** Why the state directory cannot hold a journal (an unsafe directory), or null. */
    private readonly refused: string | null,
  ) {
    this.entries = entries;
    this.written = written;
  }

  /** A journal kept in memory only. */
  static memory(root: string): PendingJournal {
    return new PendingJournal(root, null, [], "", null);
  }

  /**
   * Reads the journal of `root` in `state` (SPEC 5.7). Never fails: a journal
   * that cannot be read is a warning and counts as empty; an unsafe state
   * directory is a warning, and recording in it an error later.
   */
  static load(root: string, state: StateDir | null, log: Log, apply: boolean): PendingJournal {
    if (state === null) {
      const why = "the helper's user has no absolute home directory for its state";
      log("info", `warning: pending triggers cannot be kept: ${why}`);
      return new PendingJournal(root, null, [], "", why);
    }
    const name = journalName(root);
    const where = display(state, name);
    let dirFd: number | null;
    try {
      dirFd = openStateDir(state, false);
    } catch (err) {
      const why = describeError(err);
      log("info", `warning: the pending-trigger journal ${quote(where)} is not used: ${why}`);
      return new PendingJournal(root, state, [], "", why);
    }
    if (dirFd === null) return new PendingJournal(root, state, [], "", null);
    let entries: PendingEntry[] | string | null;
    try {
      entries = readJournal(dirFd, name, root);
    } finally {
      closeSync(dirFd);
    }
    if (entries === null) return new PendingJournal(root, state, [], "", null);
    if (typeof entries !== "string") {
      // An empty list is no journal the helper writes: written null, so that save() removes it.
      const written = entries.length === 0 ? null : serialize(root, entries);
      return new PendingJournal(root, state, entries, written, null);
    }
    log(
      "info",
      `warning: the pending-trigger journal ${quote(where)} is unreadable (${entries}); ${apply ? "it is removed" : "a sync removes it"}, and a trigger it held does not run again`,
    );
    const journal = new PendingJournal(root, state, [], null, null);
    if (apply) {
      const error = journal.save();
      if (error !== null) log("info", `warning: cannot remove ${error}`);
    }
    return journal;
  }

  /** The pending triggers, oldest first. */
  list(): readonly PendingEntry[] {
    return this.entries;
  }

  has(path: string, command: string): boolean {
    return this.entries.some((e) => e.path === path && e.command === command);
  }

  /**
   * Records durably (update-by-rename, fsync) the commands of `triggers` that
   * changes of `paths` fire, before those changes are made. Returns an error
   * when they could not be recorded (then nothing must change).
   */
  record(triggers: readonly TriggerEntry[], paths: readonly string[]): string | null {
    const fired = firedBy(triggers, paths);
    const known = new Set(this.entries.map(key));
    const added = fired.filter((e) => !known.has(key(e)));
    if (added.length === 0) return null;
    const before = this.entries;
    this.entries = [...before, ...added];
    const error = this.save();
    if (error === null) return null;
    this.entries = before;
    return `cannot record the triggers this sync fires: ${error}`;
  }

  /** The command ran successfully: every pending entry of it is done (saved by save()). */
  clear(command: string): void {
    this.entries = this.entries.filter((e) => e.command !== command);
  }

  /** Forgets one entry (no longer configured; saved by save()). */
  drop(entry: PendingEntry): void {
    this.entries = this.entries.filter((e) => key(e) !== key(entry));
  }

  /** Writes the journal if it differs from what the file holds; an error text or null. */
  save(): string | null {
    const text = serialize(this.root, this.entries);
    if (text === this.written) return null;
    // Where no journal can be kept, only keeping something is an error.
    if (this.refused !== null) return text === "" ? null : this.refused;
    if (this.state !== null) {
      try {
        writeJournal(this.state, journalName(this.root), text);
      } catch (err) {
        return `${quote(display(this.state, journalName(this.root)))}: ${describeError(err)}`;
      }
    }
    this.written = text;
    return null;
  }
}

/** The commands of every trigger that covers one of `paths` (SPEC 3.5). */
function firedBy(triggers: readonly TriggerEntry[], paths: readonly string[]): PendingEntry[] {
  const fired: PendingEntry[] = [];
  for (const trigger of triggers) {
    const prefix = trigger.path === "/" ? "/" : `${trigger.path}/`;
    if (!paths.some((p) => p === trigger.path || p.startsWith(prefix))) continue;
    for (const command of trigger.commands) fired.push({ path: trigger.path, command });
  }
  return fired;
}

/** The journal `name` in the open state directory: its entries, null when there is none, or why it is unreadable. */
function readJournal(dirFd: number, name: string, root: string): PendingEntry[] | string | null {
  let file: { fd: number; stat: Stats };
  try {
    file = openForCompare(dirFd, name);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return null;
    return errnoCode(err) === "ELOOP" ? "a symbolic link" : describeError(err);
  }
  try {
    const { fd, stat } = file;
    if (!stat.isFile()) return "not a regular file";
    if (!trusted(stat)) return "not owned by root (or the helper's user), or writable by others";
    if (stat.size > MAX_JOURNAL) return `larger than ${MAX_JOURNAL} bytes`;
    return parseJournal(readAll(fd, stat.size).toString("utf8"), root);
  } catch (err) {
    return describeError(err);
  } finally {
    closeSync(file.fd);
  }
}

/** Replaces the journal `name` with `text` (update-by-rename with fsync); "" removes it. */
function writeJournal(state: StateDir, name: string, text: string): void {
  const dirFd = openStateDir(state, text !== "");
  if (dirFd === null) return; // nothing to remove
  try {
    if (text === "") {
      if (lstatAt(dirFd, name) !== null) unlinkAt(dirFd, name);
      return;
    }
    const { uid, gid } = self();
    writeFileAt(dirFd, name, Buffer.from(text, "utf8"), 0o600, uid, gid);
  } finally {
    closeSync(dirFd);
  }
}

/** The journal of a sync: loaded from `state` (the helper's own, hostStateDir()), or kept
 * in memory when there is none (`undefined`: the helper's unit tests). */
export function openJournal(
  root: string,
  state: StateDir | null | undefined,
  log: Log,
  apply: boolean,
): PendingJournal {
  return state === undefined
    ? PendingJournal.memory(root)
    : PendingJournal.load(root, state, log, apply);
}

/** The paths a decided file plan changes (now, or after the packages): what fires triggers. */
export function plannedPaths(plan: {
  changes: readonly { path: string }[];
  deferred: readonly { path: string }[];
}): string[] {
  return [...plan.changes, ...plan.deferred].map((e) => e.path);
}
