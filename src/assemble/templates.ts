// Rendering a group's templates for one host (SPEC 3.5).

import { HostError } from "../errors.ts";
import type { Template } from "../config/group-dir.ts";
import { liquid, liquidError } from "../config/liquid.ts";
import type { VarValue } from "../config/vars.ts";
import type { SecretReads } from "./secret-reads.ts";

/** The key of TemplateContext's secret reads: a symbol, which no template can name. */
export const SECRET_READS = Symbol("secret reads");

/** What a template sees. */
export interface TemplateContext {
  /** The host's name. */
  host: string;
  /** Every known group and the host's detected groups -> is the host a member. */
  groups: Record<string, boolean>;
  /** The host's variables (vars.yaml, merged by priority). */
  vars: Record<string, VarValue>;
  /** `all` and the groups of groups.yaml -> sorted names of their member hosts. */
  members: Record<string, string[]>;
  /** The host's facts (SPEC 3.4): built-in ones and those of detect_vars. */
  facts: FactValues;
  /** Set while rendering when a template reads a secret variable (secret-reads.ts). */
  [SECRET_READS]: SecretReads;
}

export interface Rendered {
  content: Buffer;
  /** The template read a secret variable, by any path (SPEC 5.1: its diff is withheld). */
  readSecret: boolean;
}

/** A fact: a string (detect_vars and most built-in ones), a list of addresses, or a count. */
export type FactValue = string | number | string[];
export type FactValues = Record<string, FactValue>;

/**
 * Renders `template` of group `group`, noting whether it read a secret; an
 * error names the group, the file and the line, with every secret value in
 * LiquidJS's message replaced (`redact`).
 */
export function renderTemplate(
  template: Template,
  group: string,
  context: TemplateContext,
  redact: (text: string) => string,
): Rendered {
  const reads = context[SECRET_READS];
  reads.read = false; // renderSync runs to its end before anything else can read
  try {
    const text: unknown = liquid().renderSync(template.parsed, context);
    if (typeof text !== "string") throw new Error("the template did not render to text");
    return { content: Buffer.from(text, "utf8"), readSecret: reads.read };
  } catch (err) {
    const { line, message } = liquidError(err, context);
    const where = line === null ? template.source : `${template.source}:${line}`;
    // No cause: it would carry LiquidJS's own message, which may quote a secret value.
    throw new HostError(`template error in group "${group}" at ${where}: ${redact(message)}`);
  }
}
