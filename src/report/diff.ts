// The content diff of one changed file (SPEC 5.1). The result is raw text:
// the old side comes from the managed host, so the human report escapes it
// and the JSON report keeps it as it is.

import { isUtf8 } from "node:buffer";
import { formatPatch, OMIT_HEADERS, structuredPatch } from "diff";
import type { FileResult } from "../session/result.ts";

/** Lines of context around each change, as `diff -u`. */
const CONTEXT = 3;
/** Most line insertions plus deletions the diff searches for. Myers' algorithm
 * takes time quadratic in this bound, and the old content comes from the host:
 * without a bound, a hostile old file could stall the report for minutes. */
export const MAX_EDIT_LENGTH = 2000;

/**
 * Unified diff (hunks only, starting with `@@`) between the old and new
 * content of a changed regular file or symlink (symlink: its target), with
 * `\ No newline at end of file` markers. A binary side (a NUL byte or not
 * UTF-8) is shown as `<binary content, N bytes>`. Null when there is nothing
 * to diff: a created file, a directory side, only metadata changed, or a withheld diff.
 */
export function fileDiff(f: FileResult): string | null {
  if (f.diffHidden !== null) return null;
  if (f.created || f.removed || !f.contentChanged || f.old === null || f.newContent === null)
    return null;
  if (!hasContent(f.old.type) || !hasContent(f.new.type)) return null;

  if (f.oldContent === null) {
    return f.oldSize === null
      ? "<content too large to diff>"
      : `<content too large to diff, ${f.oldSize} bytes>`;
  }
  const oldBinary = isBinary(f.oldContent);
  const newBinary = isBinary(f.newContent);
  if (oldBinary && newBinary) {
    return `${binary(f.oldContent)} -> ${binary(f.newContent)}`;
  }
  // One binary side becomes a one-line placeholder, diffed against the text side.
  const oldText = oldBinary ? binary(f.oldContent) + "\n" : text(f.oldContent, f.old.type);
  const newText = newBinary ? binary(f.newContent) + "\n" : text(f.newContent, f.new.type);
  const patch = structuredPatch("", "", oldText, newText, undefined, undefined, {
    context: CONTEXT,
    maxEditLength: MAX_EDIT_LENGTH,
  });
  if (patch === undefined) {
    return `<too many changes to diff, ${f.oldContent.length} -> ${f.newContent.length} bytes>`;
  }
  if (patch.hunks.length === 0) return null;
  return formatPatch(patch, OMIT_HEADERS).replace(/\n$/, "");
}

function hasContent(type: string): boolean {
  return type === "file" || type === "symlink";
}

function isBinary(data: Buffer): boolean {
  return data.includes(0) || !isUtf8(data);
}

function binary(data: Buffer): string {
  return `<binary content, ${data.length} bytes>`;
}

/** A symlink target is one line; without the newline every target change
 * would also show "\ No newline at end of file". */
function text(data: Buffer, type: string): string {
  const s = data.toString("utf8");
  return type === "symlink" ? s + "\n" : s;
}
