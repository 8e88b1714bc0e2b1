// Rendering a group's templates for one host (SPEC 3.5).

import { HostError } from "../errors.ts";
import type { Template } from "../config/group-dir.ts";
import { liquid, liquidError } from "../config/liquid.ts";

/** What a template sees. */
export interface TemplateContext {
  /** The host's name. */
  host: string;
  /** Every known group and the host's detected groups -> is the host a member. */
  groups: Record<string, boolean>;
}

/** Renders `template` of group `group`; an error names the group, the file and the line. */
export function renderTemplate(
  template: Template,
  group: string,
  context: TemplateContext,
): Buffer {
  try {
    const text: unknown = liquid().renderSync(template.parsed, context);
    if (typeof text !== "string") throw new Error("the template did not render to text");
    return Buffer.from(text, "utf8");
  } catch (err) {
    const { line, message } = liquidError(err);
    const where = line === null ? template.source : `${template.source}:${line}`;
    throw new HostError(`template error in group "${group}" at ${where}: ${message}`, "build", {
      cause: err,
    });
  }
}
