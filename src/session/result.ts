import type { Stage } from "../errors.ts";
import type { RuntimeInfo } from "../transport/transport.ts";
import type { CommandResult, FileInfo, ServiceChange } from "../protocol/messages.ts";

/** One changed file as reported (SPEC 7); the report computes the diff. */
export interface FileResult {
  path: string;
  created: boolean;
  old: FileInfo | null;
  new: FileInfo;
  content_changed: boolean;
  /** Old content (from the host: untrusted) and new content, for the diff of a changed regular
   * file or symlink (symlink: its target). oldContent is null when the host did not send it
   * because it was too large; oldSize is then its size. */
  oldContent: Buffer | null;
  oldSize: number | null;
  newContent: Buffer | null;
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
  dry_run: boolean;
  hosts: HostResult[];
}
