import type { Stage } from "../errors.ts";
import type { RuntimeInfo } from "../transport/transport.ts";
import type {
  CommandResult,
  FileChange,
  PackageChange,
  ServiceChange,
} from "../protocol/messages.ts";

/** Why a changed file's diff is not shown (SPEC 5.1): its old or new mode withholds read
 * permission from others, or its old or new content contains a secret value or its template
 * read one; null: shown. */
export type DiffHidden = "mode" | "secret" | null;

// Internal types are camelCase; the wire (src/protocol/messages.ts) and the JSON report
// (src/report/json-types.ts, SPEC 7.2) keep their snake_case keys, converted at the edges.

/** One changed file as reported (SPEC 7), from the helper's FileChange; the report computes
 * the diff. */
export interface FileResult extends Pick<FileChange, "path" | "created" | "old" | "new"> {
  contentChanged: boolean;
  /** The entry was (or would be) removed (absent.yaml); `new` then repeats `old`. */
  removed: boolean;
  /** An ACL that granted more than the mode was (or would be) removed (SPEC 6). */
  aclRemoved: boolean;
  /** Dry-run: the user or group it waits for (created by a package; SPEC 5 step 4), else null. */
  waitsForOwner: string | null;
  /** Old content (from the host: untrusted) and new content, for the diff of a changed regular
   * file or symlink (symlink: its target). oldContent is null when the host did not send it
   * because it was too large; oldSize is then its size. */
  oldContent: Buffer | null;
  oldSize: number | null;
  newContent: Buffer | null;
  /** Set when the diff is withheld; oldContent and newContent are then null (dropped where
   * the result is assembled, so no report can print them). */
  diffHidden: DiffHidden;
}

export interface HostResult {
  name: string;
  ok: boolean;
  /** One sentence; may contain text from the host (escape before printing). */
  error: string | null;
  stage: Stage | null;
  /** All groups of the host, sorted; detected ones start with "detected_". */
  groups: string[];
  files: FileResult[];
  /** What dpkg shows installed or removed (in dry-run: would be). */
  packages: PackageChange[];
  services: ServiceChange[];
  commands: CommandResult[];
  /** Which Node.js ran the helper (null or absent: the helper never started). */
  runtime?: RuntimeInfo | null;
  /** Not one of the targets after all (known only after detecting its groups): nothing was
   * synced, and the host is left out of the reports. */
  notTarget?: boolean;
  /** Never started: a rollout in batches stopped before its batch (SPEC 4 --max-fail). */
  skipped: boolean;
}

/** A host's result before anything happened: ok, nothing changed, nothing known. */
export function newHostResult(name: string): HostResult {
  return {
    name,
    ok: true,
    error: null,
    stage: null,
    groups: [],
    files: [],
    packages: [],
    services: [],
    commands: [],
    skipped: false,
  };
}

export interface SyncResult {
  dryRun: boolean;
  hosts: HostResult[];
}

/** What decides whether a changed file's diff is withheld; oldContent is the old content as
 * received (null when the host did not send it). */
export type DiffSides = Pick<
  FileResult,
  "created" | "contentChanged" | "old" | "new" | "oldContent" | "newContent"
>;

/** What the workstation declared for a changed file: the host's report cannot change it. */
export interface Declared {
  /** The mode the configuration gives the entry (permissions.yaml or the default). */
  mode: number;
  /** Its template read a secret variable, by any path (assemble/secret-reads.ts). */
  readSecret: boolean;
}

/**
 * SPEC 5.1: whether the diff of a changed file is withheld, and why: "mode" when its old or
 * new mode withholds read permission from others (/etc/shadow, keys), "secret" when its old
 * or new content contains a secret value or its template read a secret variable, "mode" when
 * both apply; null when nothing is withheld (no diff at all, e.g. a new file, also means
 * null). The new mode is the declared one: a host that reports a readable mode for a file
 * declared private does not get its diff shown (the host's word can only withhold more).
 */
export function diffHidden(
  f: DiffSides,
  declared: Declared,
  secrets: readonly string[],
): DiffHidden {
  const hasDiff =
    !f.created &&
    f.contentChanged &&
    f.old !== null &&
    hasContent(f.old.type) &&
    hasContent(f.new.type);
  if (!hasDiff || f.old === null) return null;
  const unreadable = (mode: number) => (mode & 0o004) === 0;
  if (unreadable(f.old.mode) || unreadable(declared.mode) || unreadable(f.new.mode)) {
    return "mode";
  }
  if (declared.readSecret) return "secret";
  for (const secret of secrets) {
    if (secret === "") continue; // would match everything, and shows nothing
    if (f.oldContent?.includes(secret) === true || f.newContent?.includes(secret) === true) {
      return "secret";
    }
  }
  return null;
}

function hasContent(type: string): boolean {
  return type === "file" || type === "symlink";
}
