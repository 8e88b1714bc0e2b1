import type { Stage } from "../errors.ts";
import type { RuntimeInfo } from "../transport/transport.ts";
import type { CommandResult, FileChange, ServiceChange } from "../protocol/messages.ts";

/** Why a changed file's diff is not shown (SPEC 5.1): its old or new mode withholds read
 * permission from others, or its old or new content contains a secret value; null: shown. */
export type DiffHidden = "mode" | "secret" | null;

// Internal types are camelCase; the wire (src/protocol/messages.ts) and the JSON report
// (src/report/json-report.ts, SPEC 7.2) keep their snake_case keys, converted at the edges.

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
  packages: string[];
  services: ServiceChange[];
  commands: CommandResult[];
  /** Which Node.js ran the helper (null or absent: the helper never started). */
  runtime?: RuntimeInfo | null;
  /** Not one of the targets after all (known only after detecting its groups): nothing was synced. */
  skipped: boolean;
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

/**
 * SPEC 5.1: whether the diff of a changed file is withheld, and why: "mode" when its old or
 * new mode withholds read permission from others (/etc/shadow, keys), "secret" when its old
 * or new content contains a secret value, "mode" when both apply; null when nothing is
 * withheld (no diff at all, e.g. a new file, also means null).
 */
export function diffHidden(f: DiffSides, secrets: readonly string[]): DiffHidden {
  const hasDiff =
    !f.created &&
    f.contentChanged &&
    f.old !== null &&
    hasContent(f.old.type) &&
    hasContent(f.new.type);
  if (!hasDiff || f.old === null) return null;
  if ((f.old.mode & 0o004) === 0 || (f.new.mode & 0o004) === 0) return "mode";
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
