// Secrets (SPEC 3.5): `!env NAME` and `!command CMD` values of vars.yaml.
// They are resolved once per run on the workstation, before any host is
// contacted, and only for the vars.yaml files of groups that a named host is
// or may be in. A secret's value never appears in a message: errors name the
// file, the line and the exit status, and the session replaces any secret
// value in text that leaves for the terminal or the JSON report (redactor).
// This file is what vars.yaml needs to read them; resolve-secrets.ts resolves them
// for a loaded configuration.

import type { ScalarTag } from "yaml";
import { formatProblem } from "../errors.ts";
import type { Position } from "../errors.ts";

/** What stands where a secret value would be shown. */
export const REDACTED = "********";

/** Output of a !command beyond this is an error (a secret is small; this is not a pipe). */
export const MAX_COMMAND_OUTPUT = 1024 * 1024;

/** The tags vars.yaml may use; the value stays the tag's argument text (the node keeps the tag). */
export const SECRET_TAGS: ScalarTag[] = [
  { tag: "!env", resolve: (s: string) => s },
  { tag: "!command", resolve: (s: string) => s },
];

/** One `!env` or `!command` value of a vars.yaml. */
export class Secret {
  /** Set by resolveSecrets. */
  value: string | undefined;

  constructor(
    readonly kind: "env" | "command",
    /** The variable name or the command, as written. */
    readonly source: string,
    readonly pos: Position,
  ) {}

  resolved(): string {
    // resolveSecrets covers every group a built host can be in; reaching this is a bug.
    if (this.value === undefined) {
      throw new Error(`secret at ${formatProblem({ pos: this.pos, message: "not resolved" })}`);
    }
    return this.value;
  }
}

/**
 * A function that replaces every secret value in a text by ********. Each line
 * of a multi-line secret is replaced too, since output is often split into
 * lines. Without secrets it is the identity.
 */
export function redactor(secrets: readonly string[]): (text: string) => string {
  if (secrets.length === 0) return (text) => text;
  const parts = new Set<string>();
  for (const s of secrets) {
    parts.add(s);
    for (const line of s.split("\n")) if (line.trim() !== "") parts.add(line);
  }
  // Longest first, so a secret that contains another is replaced whole.
  const sorted = [...parts].sort((a, b) => b.length - a.length);
  return (text) => {
    for (const s of sorted) if (text.includes(s)) text = text.split(s).join(REDACTED);
    return text;
  };
}
