// Messages between the local side and the helper. Both sides are built from
// this file, so the only negotiation is PROTOCOL_VERSION in the info request.
//
// Conversation (one connection per host, at most three round trips whatever
// the number of files):
//   local -> helper  InfoRequest               helper -> local  InfoResponse
//   local -> helper  SyncRequest (sizes and    helper -> local  SyncResponse (+old content),
//                    SHA-256, no content)                       or, when it must write files,
//                                                               ContentRequest (paths)
//   local -> helper  Content (+those contents) helper -> local  SyncResponse (+old content)
// So unchanged content never travels, and changed content travels once.
// Log and KeepAlive messages may come at any time; the helper may send
// ErrorMessage and exit at any time.

export const PROTOCOL_VERSION = 1;

export type LogLevel = "error" | "info" | "verbose" | "debug" | "debug2";
export const LOG_LEVELS: readonly LogLevel[] = ["error", "info", "verbose", "debug", "debug2"];

export type FileType = "file" | "dir" | "symlink";
export type OldFileType = FileType | "fifo" | "socket" | "char" | "block";
/** What a request says of a path: that type, or "absent" (absent.yaml: must not exist). */
export type EntryType = FileType | "absent";

// ---- local -> helper -------------------------------------------------------

export interface InfoRequest {
  type: "info_request";
  version: number;
  /** Shell commands run with /bin/sh -c; see SPEC 3.4. */
  detect_groups: string[];
  /** Shell commands run like detect_groups, whose `name=value` lines add facts (SPEC 3.4). */
  detect_vars: string[];
  /** The chosen log level: the helper sends only log lines at or above it (SPEC 8). */
  log_level: LogLevel;
}

/** A user or group: a number is a numeric id, a string a name. */
export type Owner = string | number;

export interface FileEntry {
  /** Absolute path on the managed host ("/" for files/ itself), not prefixed with root. */
  path: string;
  /** "absent": a regular file, symlink or empty directory there is removed; mode, user and
   * group are then 0 and mean nothing (SPEC 3.5 absent.yaml). */
  type: EntryType;
  /** Permission bits including set-user-ID, set-group-ID and sticky (0 - 0o7777). */
  mode: number;
  user: Owner;
  group: Owner;
  /** Directories only: mode, user and group are defaults, not declared (no
   * permissions.yaml entry, SPEC 3.5): a directory that exists keeps its own;
   * they apply only when the sync creates it. */
  keep?: true;
  /** Symbolic links: the target text. */
  target?: string;
  /** Regular files: size and SHA-256 (hex) of the content, to compare without sending it. */
  size?: number;
  sha256?: string;
  /** Regular files: where the content lies in the attachment of the frame
   * that carried it (a Content message, or the request itself). */
  data_offset?: number;
  data_length?: number;
  /** Regular files: validate.yaml's command (SPEC 3.5), `%s` standing for the new file; run
   * before the rename, a non-zero exit keeps the old file. */
  validate?: string;
}

/** A packages.yaml entry (SPEC 3.5): installed (with its Recommends where `recommends`) or,
 * `absent`, removed with its configuration files kept. */
export interface PackageEntry {
  name: string;
  state: PackageState;
  /** Installed with its Recommends (apt's default is without: --no-install-recommends). */
  recommends: boolean;
}
export type PackageState = "present" | "absent";
export const PACKAGE_STATES: readonly PackageState[] = ["present", "absent"];

/** A services.yaml entry (SPEC 3.5, 5.3). */
export interface ServiceEntry {
  name: string;
  /** started: active (and enabled unless `enabled` says otherwise); stopped: inactive; masked:
   * masked and inactive. */
  state: ServiceState;
  /** Enablement as stated; null where services.yaml does not say (started: enable; stopped:
   * leave it as it is; masked: nothing to enable). */
  enabled: boolean | null;
}
export type ServiceState = "started" | "stopped" | "masked";
export const SERVICE_STATES: readonly ServiceState[] = ["started", "stopped", "masked"];

export interface TriggerEntry {
  path: string;
  commands: string[];
}

/** A command of commands.yaml (SPEC 3.5): `run`, with at most one guard. */
export interface CommandEntry {
  run: string;
  /** Skipped when this absolute path exists on the host (below root). */
  creates?: string;
  /** Skipped when this command exits 0 (not run in dry-run). */
  unless?: string;
}

export interface SyncRequest {
  type: "sync_request";
  dry_run: boolean;
  /** The chosen log level: the helper sends only log lines at or above it (SPEC 8). */
  log_level: LogLevel;
  /** Absolute directory on the managed host that stands for "/". */
  root: string;
  /** Sorted by path, parents before children. */
  files: FileEntry[];
  packages: PackageEntry[];
  services: ServiceEntry[];
  triggers: TriggerEntry[];
  commands: CommandEntry[];
}

/** The contents the helper asked for (ContentRequest), in the frame's attachment. */
export interface ContentMessage {
  type: "content";
  files: { path: string; data_offset: number; data_length: number }[];
}

export type Request = InfoRequest | SyncRequest | ContentMessage;

// ---- helper -> local -------------------------------------------------------

export interface LogMessage {
  type: "log";
  level: LogLevel;
  text: string;
}

export interface DetectResult {
  command: string;
  exit_code: number;
  /** Standard output (only), decoded as UTF-8. */
  output: string;
  /** Standard error, shown when the command fails. */
  stderr: string;
}

export interface InfoResponse {
  type: "info_response";
  version: number;
  os: string;
  arch: string;
  node_version: string;
  uid: number;
  gid: number;
  /** Names of uid/gid; null when the host's user database has none. */
  user: string | null;
  group: string | null;
  detect_groups: DetectResult[];
  /** One result per detect_vars command, in order. */
  detect_vars: DetectResult[];
  facts: Facts;
}

/** The built-in facts of a host (SPEC 3.4), read by the helper in the info round trip. */
/** The names of the built-in facts (SPEC 3.4); detect_vars cannot set them. */
export const BUILT_IN_FACTS = [
  "hostname",
  "os",
  "arch",
  "kernel",
  "os_id",
  "os_version_id",
  "os_codename",
  "os_like",
  "ipv4",
  "ipv6",
  "cpus",
  "memory_mib",
] as const satisfies readonly (keyof Facts)[];

export interface Facts {
  hostname: string;
  /** process.platform and process.arch ("linux", "x64"). */
  os: string;
  arch: string;
  /** The kernel release (uname -r). */
  kernel: string;
  /** ID, VERSION_ID, VERSION_CODENAME and ID_LIKE of /etc/os-release; "" where it lacks them. */
  os_id: string;
  os_version_id: string;
  os_codename: string;
  os_like: string;
  /** The host's addresses other than loopback, in the order of its interfaces, each once. */
  ipv4: string[];
  ipv6: string[];
  /** CPUs the helper may run on (as `nproc` counts them). */
  cpus: number;
  /** Total memory in MiB, rounded down. */
  memory_mib: number;
}

export interface FileInfo {
  type: OldFileType;
  mode: number;
  user: string | null;
  uid: number;
  group: string | null;
  gid: number;
}

export interface FileChange {
  path: string;
  /** True when nothing existed at the path. */
  created: boolean;
  old: FileInfo | null;
  new: FileInfo;
  /** Content changed (regular files: bytes; symlinks: target). */
  content_changed: boolean;
  /** Old content for the diff (symlink: target text), when the old entry was a
   * regular file or symlink and its content changed; where it lies in the
   * response attachment. Absent when the old content was too large. */
  old_data_offset?: number;
  old_data_length?: number;
  /** Size of the old regular file in bytes, when it was one. */
  old_size?: number;
  /** An extended ACL (named entries, mask, default ACL) was (or would be) removed (SPEC 6). */
  acl_removed?: true;
  /** The entry was (or would be) removed (absent.yaml); `new` then repeats `old`. */
  removed?: true;
  /** Dry-run: the entry waits for this user or group, which does not exist on the host
   * until the packages are installed (SPEC 5 step 4); new.uid or new.gid is then UNKNOWN_ID. */
  waits_for_owner?: string;
}

/** The id of an owner that does not exist yet ((uid_t)-1, never a real id). */
export const UNKNOWN_ID = 2 ** 32 - 1;

/** A package that dpkg shows installed or removed after the sync (in dry-run: would be). */
export interface PackageChange {
  name: string;
  action: "installed" | "removed";
}

/** What was done to a unit (in dry-run: would be); on an error, including the action that
 * was being attempted. */
export interface ServiceChange {
  name: string;
  started: boolean;
  stopped: boolean;
  enabled: boolean;
  disabled: boolean;
  masked: boolean;
}

export interface CommandResult {
  command: string;
  /** The triggers.yaml path that fired, or null for commands.yaml. */
  trigger: string | null;
  /** Null in dry-run (not run) and when skipped. */
  exit_code: number | null;
  output: string | null;
  /** The command's guard (commands.yaml), as sent. */
  creates?: string;
  unless?: string;
  /** The guard that skipped it: `creates` exists, or `unless` exited 0. */
  skipped?: "creates" | "unless";
  /** A trigger recorded as pending by an earlier sync and run now (SPEC 3.5). */
  pending?: true;
}

export interface SyncResponse {
  type: "sync_response";
  files: FileChange[];
  packages: PackageChange[];
  services: ServiceChange[];
  commands: CommandResult[];
  /** The error that stopped the sync; everything done up to then is listed above. */
  error: string | null;
}

/** Sent by the helper at least every KEEPALIVE_INTERVAL ms while it works on a request. */
export interface KeepAlive {
  type: "keepalive";
}

/** How often the helper says it is still working (ms); the local side's timeout is much longer. */
export const KEEPALIVE_INTERVAL = 5_000;

/** The helper needs the content of these regular files (sent, by path, in the sync request). */
export interface ContentRequest {
  type: "content_request";
  paths: string[];
}

export interface ErrorMessage {
  type: "error";
  message: string;
}

export type Response =
  LogMessage | KeepAlive | InfoResponse | ContentRequest | SyncResponse | ErrorMessage;

/** Largest old content the helper sends back for a diff. */
export const MAX_DIFF_CONTENT = 4 * 1024 * 1024;
/** Largest output of a command or detect_groups command kept in a message. */
export const MAX_OUTPUT = 1024 * 1024;
/** Largest log line text. */
export const MAX_LOG_TEXT = 64 * 1024;
