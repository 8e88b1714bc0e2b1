// The shape of the JSON report (SPEC 7.2), written by json.ts and described
// for other programs by schemas/report.schema.json (test/schemas checks that
// real reports match it).

export interface JsonReport {
  dry_run: boolean;
  hosts: JsonHost[];
}

export interface JsonHost {
  name: string;
  ok: boolean;
  /** One sentence when the host failed (or, when skipped, why it never started). */
  error: string | null;
  /** Never started: a rollout in batches (--batch) stopped before its batch because more
   * hosts had failed than --max-fail allows; `ok` is then false. */
  skipped: boolean;
  /** All groups of the host, sorted; detected ones start with "detected_". */
  groups: string[];
  /** A file, package or service changed, a trigger ran or a guarded command ran (SPEC 7.1;
   * in dry-run: would); plain commands.yaml commands do not count. */
  changed: boolean;
  /** Only what changed (or would change). */
  files: JsonFile[];
  /** What dpkg shows done (a failed install lists nothing as installed; the error names
   * what is missing). */
  packages: JsonPackage[];
  /** Each flag true where this sync did it (or would do it) to the unit. */
  services: JsonService[];
  /** Every trigger and command that ran (in dry-run: would run, exit_code and output null). */
  commands: JsonCommand[];
  /** Which Node.js ran the helper (null when the host failed before it ran). */
  runtime: JsonRuntime | null;
}

export interface JsonPackage {
  name: string;
  action: "installed" | "removed";
}

export interface JsonService {
  name: string;
  started: boolean;
  stopped: boolean;
  enabled: boolean;
  disabled: boolean;
  masked: boolean;
}

export interface JsonRuntime {
  kind: "host" | "bundled";
  version: string;
  /** The bundled runtime was uploaded by this sync. */
  uploaded: boolean;
}

export interface JsonFile {
  path: string;
  created: boolean;
  /** The entry was (or would be) removed (absent.yaml); `new` is then null. */
  removed: boolean;
  old: JsonFileInfo | null;
  new: JsonFileInfo | null;
  diff: string | null;
  /** Why the diff was withheld: a mode that withholds read permission from others ("mode",
   * also when both apply), or a secret in the old or new content ("secret"). */
  diff_hidden: "mode" | "secret" | null;
  /** An ACL that granted more than the mode was (or would be) removed (SPEC 6). */
  acl_removed: boolean;
  /** Dry-run: the user or group the entry waits for (a package creates it), when it does. */
  waits_for_owner?: string;
}

export interface JsonFileInfo {
  type: "file" | "dir" | "symlink" | "fifo" | "socket" | "char" | "block";
  /** 4-digit octal, special bits included. */
  mode: string;
  user: string | null;
  /** null: the owner does not exist yet (waits_for_owner). */
  uid: number | null;
  group: string | null;
  gid: number | null;
}

export interface JsonCommand {
  command: string;
  trigger: string | null;
  exit_code: number | null;
  output: string | null;
  /** The guard that skipped the command (not run): `creates` exists, or `unless` exited 0. */
  skipped: "creates" | "unless" | null;
  /** A trigger left pending by an earlier sync (it failed or was cut short), run now. */
  pending: boolean;
}
