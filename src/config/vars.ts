// vars.yaml (SPEC 3.5): variables for templates. Values are kept as read,
// with `!env` and `!command` values as Secret references that are resolved
// later, once per run, for the groups a named host can be in (secrets.ts).

import { isMap, isScalar, isSeq } from "yaml";
import type { Node } from "yaml";
import type { Position } from "../errors.ts";
import { Secret, SECRET_TAGS } from "./secrets.ts";
import { MAX_NESTING, TOO_DEEP } from "./yaml.ts";
import type { YamlFile } from "./yaml.ts";

/** A variable's value as templates see it. */
export type VarValue = string | number | boolean | VarValue[] | { [key: string]: VarValue };

/** A value as read from vars.yaml: secrets are references until they are resolved. */
export type RawValue =
  string | number | boolean | Secret | RawValue[] | { [key: string]: RawValue };

export interface Variable {
  value: RawValue;
  /** Where the variable's name is, for conflict messages. */
  pos: Position;
}

export interface Vars {
  /** By name, in file order. */
  vars: Map<string, Variable>;
  /** Every !env and !command value of the file. */
  secrets: Secret[];
}

/** The grammar of a variable name (a Liquid identifier, lower case). */
export const VAR_NAME = /^[a-z_][a-z0-9_]*$/;

/** An environment variable name as POSIX shells accept it. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Aliases can make a small file expand to a huge value (the "billion laughs"):
 * reading stops with an error after this many values.
 */
export const MAX_VAR_NODES = 100_000;

/** The tags vars.yaml may use; everywhere else a tag is an error. */
export { SECRET_TAGS };

export function readVars(yf: YamlFile): Vars {
  const result: Vars = { vars: new Map(), secrets: [] };
  if (yf.isNull(yf.root)) return result;
  const budget = { left: MAX_VAR_NODES, deepReported: false };
  for (const e of yf.map(yf.root, "vars.yaml") ?? []) {
    if (!VAR_NAME.test(e.key)) {
      yf.error(
        e.keyNode,
        "bad-name",
        `invalid variable name "${e.key}": lower-case letters, digits and "_", not starting with a digit`,
      );
      continue;
    }
    const value = readValue(yf, e.value, `variable "${e.key}"`, result.secrets, budget, 2);
    if (value !== undefined) result.vars.set(e.key, { value, pos: yf.pos(e.keyNode) });
  }
  return result;
}

/** What reading one vars.yaml may still take: values, and whether the nesting was reported. */
interface Budget {
  left: number;
  deepReported: boolean;
}

/** Converts a node (at nesting `depth`, the file's top mapping being 1) to a RawValue,
 * recording a problem and returning undefined where it is wrong. */
function readValue(
  yf: YamlFile,
  node: Node | null,
  what: string,
  secrets: Secret[],
  budget: Budget,
  depth: number,
): RawValue | undefined {
  if ((isSeq(node) || isMap(node)) && depth > MAX_NESTING) {
    // Only through aliases (YamlFile refuses deeper text): once per file.
    if (!budget.deepReported) yf.error(node, "too-large", `${TOO_DEEP} (through aliases)`);
    budget.deepReported = true;
    return undefined;
  }
  if (--budget.left < 0) {
    if (budget.left === -1) {
      yf.error(
        node,
        "too-large",
        `vars.yaml expands to more than ${MAX_VAR_NODES} values (through aliases?)`,
      );
    }
    return undefined;
  }
  if (isSeq(node)) {
    const items: RawValue[] = [];
    let ok = true;
    for (const item of node.items) {
      const v = readValue(yf, yf.resolve(item), `an item of ${what}`, secrets, budget, depth + 1);
      if (v === undefined) ok = false;
      else items.push(v);
    }
    return ok ? items : undefined;
  }
  if (isMap(node)) {
    const entries: [string, RawValue][] = [];
    let ok = true;
    for (const e of yf.map(node, what) ?? []) {
      const v = readValue(yf, e.value, `"${e.key}" of ${what}`, secrets, budget, depth + 1);
      if (v === undefined) ok = false;
      else entries.push([e.key, v]);
    }
    // fromEntries defines own properties, so a key "__proto__" stays a key.
    return ok ? Object.fromEntries(entries) : undefined;
  }
  if (isScalar(node) && (node.tag === "!env" || node.tag === "!command")) {
    return secret(yf, node, node.tag, secrets);
  }
  if (isScalar(node)) {
    const v: unknown = node.value;
    if (typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "number")
      return yf.error(node, "bad-value", `${what} must be a finite number`);
    if (v === null) {
      return yf.error(node, "bad-value", `${what} has no value (write "" for an empty string)`);
    }
  }
  return yf.error(node, "bad-value", `${what} must be a string, number, boolean, list or mapping`);
}

function secret(
  yf: YamlFile,
  node: Node,
  tag: "!env" | "!command",
  secrets: Secret[],
): Secret | undefined {
  const text = yf.string(node, `the argument of ${tag}`);
  if (text === undefined) return undefined;
  if (tag === "!env" && !ENV_NAME.test(text)) {
    return yf.error(
      node,
      "bad-value",
      `!env needs the name of an environment variable, not "${text}"`,
    );
  }
  if (tag === "!command" && text.trim() === "") {
    return yf.error(node, "bad-value", `!command needs a shell command`);
  }
  const s = new Secret(tag === "!env" ? "env" : "command", text, yf.pos(node));
  secrets.push(s);
  return s;
}

/** The value with every secret replaced by its resolved value. */
export function resolvedValue(value: RawValue): VarValue {
  if (value instanceof Secret) return value.resolved();
  if (Array.isArray(value)) return value.map(resolvedValue);
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolvedValue(v)]));
  }
  return value;
}
