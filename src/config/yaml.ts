// Reading the configuration's YAML files with positions: every mistake is
// reported with the file (relative to the configuration directory), line and
// column of the node that is wrong, and as many mistakes as possible are
// collected before loadConfig throws.

import { readFileSync } from "node:fs";
import path from "node:path";
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit } from "yaml";
import type { Alias, Document, Node, ScalarTag, YAMLError } from "yaml";
import { ConfigError } from "../errors.ts";
import type { Position, Problem, ProblemCode } from "../errors.ts";

/**
 * How deep lists and mappings may nest in a file (in vars.yaml also through aliases).
 * Every reader of a document (the yaml package's own, its visit, the variables' reader)
 * recurses once per level, and where Node.js's call stack ends depends on what ran
 * before: somewhere between several hundred and a few thousand levels. Deeper is a
 * problem of the file, found before anything walks it, the same on every run.
 */
export const MAX_NESTING = 100;
export const TOO_DEEP = `lists and mappings nested more than ${MAX_NESTING} levels deep`;

/** The codes of the yaml package's own errors that are worth a code of their own. */
const YAML_CODES: Partial<Record<YAMLError["code"], ProblemCode>> = {
  DUPLICATE_KEY: "duplicate-key",
  TAG_RESOLVE_FAILED: "unknown-tag",
  // The yaml package's parser ran out of call stack: nesting far beyond MAX_NESTING.
  RESOURCE_EXHAUSTION: "too-large",
};

/** The first list or mapping nested deeper than MAX_NESTING (aliases not followed),
 * found with a stack of its own, without recursion. */
function tooDeep(doc: Document): Node | undefined {
  const stack: [unknown, number][] = [[doc.contents, 1]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, depth] = top;
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth > MAX_NESTING) return node;
    for (const item of node.items) {
      // A mapping's keys may be lists and mappings too.
      if (isPair(item)) stack.push([item.key, depth + 1], [item.value, depth + 1]);
      else stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

/**
 * The keys that repeat an earlier key of the same mapping: what the yaml package's
 * `uniqueKeys: true` reports (scalar keys of equal value; other keys equal only
 * themselves), found with one set per mapping. yaml compares every key with each
 * earlier one, which takes seconds for a groups.yaml of ten thousand groups.
 */
export function duplicateKeys(doc: Document): Node[] {
  const found: Node[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        const value = key.value;
        if (typeof value === "number" && Number.isNaN(value)) continue; // NaN !== NaN for yaml too
        if (seen.has(value)) found.push(key);
        else seen.add(value);
      }
    },
  });
  return found;
}

/** Collects the problems of a whole configuration; thrown together at the end. */
export class Problems {
  readonly list: Problem[] = [];

  add(pos: Position | undefined, code: ProblemCode, message: string): void {
    this.list.push(pos === undefined ? { code, message } : { code, pos, message });
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new ConfigError(this.list);
  }
}

/** A key of a YAML mapping with its value (null for an empty value). */
export interface Entry {
  key: string;
  keyNode: Node;
  value: Node | null;
}

/** One parsed YAML file and the helpers that check its nodes; every check
 * records a problem at the node and returns undefined when it fails. */
export class YamlFile {
  /** The document's top-level node; null for an empty file or a syntax error. */
  readonly root: Node | null = null;
  /** False when the file could not be parsed (the problems are recorded). */
  readonly ok: boolean;

  /** The node of each alias resolved so far. */
  private readonly aliases = new Map<Alias, Node | null>();

  private constructor(
    /** Path relative to the configuration directory, for messages. */
    readonly file: string,
    private readonly doc: Document.Parsed | null,
    readonly problems: Problems,
    private readonly lineCounter: LineCounter = new LineCounter(),
  ) {
    this.ok = doc !== null;
    if (doc !== null) this.root = this.resolve(doc.contents);
  }

  /** Reads and parses `dir/file`; syntax errors (and warnings such as unknown tags) are problems.
   * `customTags` are the tags the file may use (vars.yaml's !env and !command). */
  static read(
    dir: string,
    file: string,
    problems: Problems,
    customTags: ScalarTag[] = [],
  ): YamlFile {
    let text: string;
    try {
      text = readFileSync(path.join(dir, file), "utf8");
    } catch (err) {
      problems.add({ file }, "unreadable", `cannot read: ${errorText(err)}`);
      return new YamlFile(file, null, problems);
    }
    return YamlFile.parse(file, text, problems, customTags);
  }

  static parse(
    file: string,
    text: string,
    problems: Problems,
    customTags: ScalarTag[] = [],
  ): YamlFile {
    // yaml's own check for repeated keys compares every key with each earlier one
    // (seconds for thousands of groups): it runs only when the one-pass check finds a
    // repeat, so that the problems are yaml's, positions included.
    const parse = (uniqueKeys: boolean) => {
      const lineCounter = new LineCounter();
      const options = { lineCounter, prettyErrors: false, uniqueKeys, customTags };
      return { doc: parseDocument(text, options), lineCounter };
    };
    let { doc, lineCounter } = parse(false);
    const deep = tooDeep(doc);
    if (deep !== undefined) {
      const { line, col } = lineCounter.linePos(deep.range?.[0] ?? 0);
      problems.add({ file, line, col }, "too-large", TOO_DEEP);
      return new YamlFile(file, null, problems, lineCounter);
    }
    if (duplicateKeys(doc).length > 0) ({ doc, lineCounter } = parse(true));
    const issues = [...doc.errors, ...doc.warnings];
    for (const e of issues) {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      let message = e.message;
      if (e.code === "RESOURCE_EXHAUSTION") message = TOO_DEEP;
      if (e.code === "TAG_RESOLVE_FAILED") {
        message +=
          customTags.length > 0
            ? ` (known tags: ${customTags.map((t) => `${t.tag} on a string`).join(", ")})`
            : " (tags such as !env and !command belong in vars.yaml)";
      }
      problems.add({ file, line, col }, YAML_CODES[e.code] ?? "yaml-syntax", message);
    }
    return new YamlFile(file, issues.length > 0 ? null : doc, problems, lineCounter);
  }

  pos(node: Node | null | undefined): Position {
    const offset = node?.range?.[0];
    if (offset === undefined) return { file: this.file };
    const { line, col } = this.lineCounter.linePos(offset);
    return { file: this.file, line, col };
  }

  error(node: Node | null | undefined, code: ProblemCode, message: string): undefined {
    this.problems.add(this.pos(node), code, message);
    return undefined;
  }

  /** Follows an alias to the node it names. */
  resolve(node: unknown): Node | null {
    if (isAlias(node) && this.doc !== null) {
      // The yaml package looks for the anchor through the whole document on every
      // call: each alias is looked up once (a vars.yaml of 600 aliases of aliases
      // took 40 s before).
      let target = this.aliases.get(node);
      if (target === undefined) {
        const found: unknown = node.resolve(this.doc);
        target = isMap(found) || isSeq(found) || isScalar(found) ? found : null;
        this.aliases.set(node, target);
      }
      return target;
    }
    return isMap(node) || isSeq(node) || isScalar(node) ? node : null;
  }

  /** The entries of a mapping; keys must be strings (or plain numbers, taken as written). */
  map(node: Node | null, what: string): Entry[] | undefined {
    if (!isMap(node)) return this.error(node, "wrong-type", `${what} must be a mapping`);
    const entries: Entry[] = [];
    for (const pair of node.items) {
      const keyNode = this.resolve(pair.key);
      if (keyNode === null) continue;
      const key = this.text(keyNode);
      if (key === undefined) {
        this.error(keyNode, "wrong-type", `a key of ${what} must be a string`);
        continue;
      }
      entries.push({ key, keyNode, value: this.resolve(pair.value) });
    }
    return entries;
  }

  /** The items of a sequence (aliases resolved). */
  seq(node: Node | null, what: string): (Node | null)[] | undefined {
    if (!isSeq(node)) return this.error(node, "wrong-type", `${what} must be a list`);
    return node.items.map((item) => this.resolve(item));
  }

  /** Records an error for every key not in `allowed`. */
  checkKeys(entries: Entry[], allowed: readonly string[], what: string): void {
    for (const e of entries) {
      if (!allowed.includes(e.key)) {
        this.error(
          e.keyNode,
          "unknown-key",
          `unknown key "${e.key}" in ${what} (known keys: ${allowed.join(", ")})`,
        );
      }
    }
  }

  /** A string scalar; a plain number is taken as written (so 0644 stays "0644"). */
  string(node: Node | null, what: string): string | undefined {
    const s = this.text(node);
    if (s === undefined) return this.error(node, "wrong-type", `${what} must be a string`);
    return s;
  }

  /** A non-empty string without control characters. */
  nonEmptyString(node: Node | null, what: string): string | undefined {
    const s = this.string(node, what);
    if (s === undefined) return undefined;
    if (s.trim() === "") return this.error(node, "bad-value", `${what} must not be empty`);
    if (hasControlCharacter(s.replace(/[\t\n]/g, ""))) {
      return this.error(node, "bad-value", `${what} must not contain control characters`);
    }
    return s;
  }

  bool(node: Node | null, what: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === "boolean") return node.value;
    return this.error(node, "wrong-type", `${what} must be true or false`);
  }

  /** A whole number from 0 to `max`. */
  nonNegativeInt(node: Node | null, what: string, max: number): number | undefined {
    if (isScalar(node) && typeof node.value === "number" && Number.isInteger(node.value)) {
      if (node.value >= 0 && node.value <= max) return node.value;
    }
    return this.error(node, "bad-value", `${what} must be a whole number from 0 to ${max}`);
  }

  /** A list of non-empty strings (an empty value is an empty list). */
  stringList(node: Node | null, what: string): { value: string; node: Node }[] | undefined {
    if (isScalar(node) && node.value === null) return [];
    const items = this.seq(node, what);
    if (items === undefined) return undefined;
    const out: { value: string; node: Node }[] = [];
    for (const item of items) {
      const value = this.nonEmptyString(item, `an item of ${what}`);
      if (value !== undefined && item !== null) out.push({ value, node: item });
    }
    return out;
  }

  /** True for a missing or null value (`key:` with nothing after it). */
  isNull(node: Node | null): boolean {
    return node === null || (isScalar(node) && node.value === null);
  }

  /** The scalar's text: strings as they are, plain numbers as written in the source. */
  text(node: Node | null): string | undefined {
    if (!isScalar(node)) return undefined;
    if (typeof node.value === "string") return node.value;
    if (typeof node.value === "number" && node.type === "PLAIN" && node.source !== undefined) {
      return node.source;
    }
    return undefined;
  }
}

/** True when `s` contains a C0 control character or DEL. */
export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
