// The one place where text from a managed host is made safe for a terminal
// (SPEC 1.3, STYLE b.9). A compromised host must not be able to move the
// cursor, clear the screen, set the window title, plant OSC 8 hyperlinks or
// reorder what the user reads (Trojan Source, CVE-2021-42574). Instead of
// stripping, every dangerous character is made visible, so nothing is hidden.

import { isUtf8 } from "node:buffer";

// Every control character (Cc) but `\n` and `\t`, every format character
// (Cf: bidi overrides and isolates, zero-width spaces and joiners, the soft
// hyphen, U+FEFF, the astral tag characters ...), the line and paragraph
// separators U+2028/U+2029 (Zl, Zp) and every lone surrogate (Cs: possible in
// JSON from the host). Property escapes follow the Unicode version of the
// running Node.js, so a new format character is covered without a change here.
// With the `u` flag a surrogate pair is one code point and never matches; each
// match is one code point: linear time.
const UNSAFE = /(?![\t\n])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
// quote() also escapes line breaks, tabs, `"` and `\`, so a quoted name is one
// unambiguous token on one line.
const UNSAFE_QUOTED = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}"\\]/gu;

/** `\x00` ... `\xff`, for C0/C1 controls and invalid bytes. */
const HEX = Array.from({ length: 256 }, (_, b) => `\\x${b.toString(16).padStart(2, "0")}`);

const NAMED: Record<string, string> = {
  "\n": "\\n",
  "\t": "\\t",
  "\r": "\\r",
  '"': '\\"',
  "\\": "\\\\",
};

function visible(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.codePointAt(0) ?? 0;
  if (code < 0xa0) return HEX[code]; // C0, DEL, C1
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, "0")}`;
  return `\\u{${code.toString(16)}}`;
}

/**
 * Makes text from a managed host safe to print (SPEC 7.1): C0 controls (but
 * `\n` and `\t`), `\r`, DEL, C1 controls, every format character, U+2028,
 * U+2029 and lone surrogates are shown as escapes, e.g. `\x1b`, `\r`, `\x9b`,
 * `\u202e`, `\u200b`, `\u2028`, `\u{e0001}`, `\ud800`.
 * Backslashes stay as they are.
 */
export function escape(text: string): string {
  return text.replace(UNSAFE, visible);
}

/** Like escape(), inside double quotes, for paths and names on one line. */
export function quote(text: string): string {
  return `"${text.replace(UNSAFE_QUOTED, visible)}"`;
}

/**
 * Decodes UTF-8 from a managed host and escapes it; every byte that is not
 * part of a valid UTF-8 sequence is shown as `\xHH` (never silently replaced).
 */
export function escapeBytes(data: Buffer): string {
  if (isUtf8(data)) return escape(data.toString("utf8"));
  const parts: string[] = [];
  let start = 0; // start of the current run of valid sequences
  let i = 0;
  while (i < data.length) {
    const n = sequenceLength(data, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (start < i) parts.push(escape(data.toString("utf8", start, i)));
    parts.push(HEX[data[i]]);
    i += 1;
    start = i;
  }
  if (start < i) parts.push(escape(data.toString("utf8", start, i)));
  return parts.join("");
}

/** Length of the well-formed UTF-8 sequence at data[i] (Unicode table 3-7), or 0. */
function sequenceLength(data: Buffer, i: number): number {
  const b = data[i];
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return cont(data, i + 1) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    const lo = b === 0xe0 ? 0xa0 : 0x80; // no overlong forms
    const hi = b === 0xed ? 0x9f : 0xbf; // no UTF-16 surrogates
    return cont(data, i + 1, lo, hi) && cont(data, i + 2) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const lo = b === 0xf0 ? 0x90 : 0x80; // no overlong forms
    const hi = b === 0xf4 ? 0x8f : 0xbf; // nothing above U+10FFFF
    return cont(data, i + 1, lo, hi) && cont(data, i + 2) && cont(data, i + 3) ? 4 : 0;
  }
  return 0;
}

/** Whether data[j] exists and is a continuation byte in [lo, hi]. */
function cont(data: Buffer, j: number, lo = 0x80, hi = 0xbf): boolean {
  return j < data.length && data[j] >= lo && data[j] <= hi;
}
