// The template engine (SPEC 3.5): LiquidJS in strict mode. Templates are parsed
// once by loadConfig (syntax errors are configuration errors) and rendered per
// host by assemble/templates.ts with the same engine.

import { createRequire } from "node:module";
import type * as LiquidJs from "liquidjs";
import type { Liquid, Template } from "liquidjs";
import { jinjaHint, type HintNames } from "./liquid-hints.ts";

export type ParsedTemplate = Template[];

let engine: Liquid | undefined;

/**
 * The engine, created on first use: LiquidJS is loaded only then, so that a
 * configuration without templates does not pay for evaluating it at every start.
 * The CLI bundle loads it from the package's node_modules too.
 */
export function liquid(): Liquid {
  const load = () => createRequire(import.meta.url)("liquidjs") as typeof LiquidJs;
  engine ??= new (load().Liquid)({
    // Unknown variables and filters are errors, also in {% if %}, so a typo in
    // a group name is not silently false.
    strictVariables: true,
    strictFilters: true,
    lenientIf: false,
    ownPropertyOnly: true,
    // No file system: {% include %} and {% render %} find nothing instead of
    // reading files of the workstation.
    templates: {},
    // A runaway template fails instead of hanging the sync.
    renderLimit: 10_000,
    memoryLimit: 16 * 1024 * 1024,
  });
  return engine;
}

/**
 * The template's line and the message without LiquidJS's ", file:..., line:.., col:.." suffix,
 * with a hint in parentheses where the mistake is a Jinja habit (liquid-hints.ts); `names` are
 * the template's vars and facts where known (when rendering).
 */
export function liquidError(
  err: unknown,
  names?: HintNames,
): { line: number | null; message: string } {
  if (!(err instanceof Error)) return { line: null, message: String(err) };
  let line: number | null = null;
  const token: unknown = "token" in err ? err.token : undefined;
  if (typeof token === "object" && token !== null && "getPosition" in token) {
    const getPosition = token.getPosition;
    if (typeof getPosition === "function") {
      const position: unknown = getPosition.call(token);
      if (Array.isArray(position) && typeof position[0] === "number") line = position[0];
    }
  }
  const message = err.message.replace(/(, file:.*?)?, line:\d+, col:\d+$/s, "");
  const hint = jinjaHint(err, message, names);
  return { line, message: hint === null ? message : `${message} (${hint})` };
}
