// The JSON Schemas of schemas/ compiled with ajv, and the YAML files of a
// configuration directory validated against them as an editor would see them
// (tags are invisible to a schema: `!env X` is just the string "X").

import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { Ajv } from "ajv";
import type { ValidateFunction } from "ajv";
import { isAlias, isMap, isSeq, parseDocument, type Document } from "yaml";
import { MAX_VAR_NODES } from "../../src/config/vars.ts";
import { duplicateKeys } from "../../src/config/yaml.ts";
import { REPO } from "../helpers/tree.ts";

export const SCHEMA_NAMES = [
  "config",
  "hosts",
  "groups",
  "permissions",
  "templates",
  "triggers",
  "packages",
  "services",
  "commands",
  "vars",
  "validate",
  "absent",
  "report",
] as const;

const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
const validators = new Map<string, ValidateFunction>();
for (const name of SCHEMA_NAMES) {
  const schema = JSON.parse(
    readFileSync(join(REPO, "schemas", `${name}.schema.json`), "utf8"),
  ) as object;
  validators.set(name, ajv.compile(schema));
}

export function validator(name: (typeof SCHEMA_NAMES)[number]): ValidateFunction {
  const v = validators.get(name);
  if (v === undefined) throw new Error(`no schema ${name}`);
  return v;
}

const TOP = ["config.yaml", "hosts.yaml", "groups.yaml"];
const GROUP = SCHEMA_NAMES.filter((n) => !["config", "hosts", "groups", "report"].includes(n)).map(
  (n) => `${n}.yaml`,
);

/** The schema for a file of a configuration directory (path relative to it), if it has one. */
export function schemaOf(rel: string): ValidateFunction | undefined {
  const parts = rel.split("/");
  const name = basename(rel);
  if (parts.length === 1 && TOP.includes(name)) return validators.get(name.slice(0, -5));
  if (parts.length === 2 && GROUP.includes(name)) return validators.get(name.slice(0, -5));
  return undefined;
}

const TAGS = [
  { tag: "!env", resolve: (s: string) => s },
  { tag: "!command", resolve: (s: string) => s },
];

/**
 * Validates one YAML document against its schema: "accepted", "rejected" (with
 * ajv's errors), or "unparsed" when YAML itself fails (the schema has nothing to say).
 */
export function validateYaml(
  rel: string,
  text: string,
): { result: "accepted" | "rejected" | "unparsed" | "no schema"; errors?: string } {
  const v = schemaOf(rel);
  if (v === undefined) return { result: "no schema" };
  const doc = parseDocument(text, { customTags: TAGS, uniqueKeys: false });
  if (doc.errors.length > 0 || doc.warnings.length > 0 || duplicateKeys(doc).length > 0) {
    return { result: "unparsed" };
  }
  // As many values as the loader takes (vars.yaml), counted as it counts them: yaml's own
  // maxAliasCount measures something else and refused alias chains the loader accepts.
  if (!varsWithin(doc.contents, doc, MAX_VAR_NODES)) return { result: "unparsed" };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: -1 }); // bounded by the count above
  } catch {
    return { result: "unparsed" };
  }
  if (value === undefined) value = null;
  if (v(value)) return { result: "accepted" };
  return { result: "rejected", errors: JSON.stringify(v.errors) };
}

/**
 * Whether the values below the top mapping `root`, aliases followed, number at most
 * `max`, counted as src/config/vars.ts counts them: each value once (an alias is the
 * value it stands for), keys and the top mapping not at all.
 */
function varsWithin(root: unknown, doc: Document, max: number): boolean {
  const budget = { left: max };
  const within = (node: unknown): boolean => {
    if (isAlias(node)) return within(node.resolve(doc));
    if (--budget.left < 0) return false;
    if (isSeq(node)) return node.items.every(within);
    if (isMap(node)) return node.items.every((pair) => within(pair.value));
    return true;
  };
  return isMap(root) ? root.items.every((pair) => within(pair.value)) : within(root);
}

/** Every YAML file of a configuration directory that has a schema, relative path -> text. */
export function yamlFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const add = (rel: string) => {
    if (schemaOf(rel) === undefined) return;
    try {
      if (statSync(join(dir, rel)).isFile()) out.set(rel, readFileSync(join(dir, rel), "utf8"));
    } catch {
      // a symlink loop or an unreadable file: the loader reports it, the schema has no say
    }
  };
  for (const top of readdirSync(dir)) {
    add(top);
    let sub: string[];
    try {
      sub = statSync(join(dir, top)).isDirectory() ? readdirSync(join(dir, top)) : [];
    } catch {
      sub = [];
    }
    for (const f of sub) add(`${top}/${f}`);
  }
  return out;
}
