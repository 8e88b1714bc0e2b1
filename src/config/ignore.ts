// ignore in config.yaml (SPEC 3.1): glob patterns of base names that are not
// part of the configuration (editor backups, .gitkeep placeholders). Matching
// is picomatch's, with `dot` on so that `*` and `?` also match a leading dot.

import picomatch from "picomatch";
import type { Node } from "yaml";
import type { YamlFile } from "./yaml.ts";

export const DEFAULT_IGNORE: readonly string[] = [
  "*~",
  ".*.swp",
  ".*.swo",
  ".#*",
  "#*#",
  ".DS_Store",
  ".gitkeep",
];

const OPTIONS: picomatch.PicomatchOptions = { dot: true, nonegate: true, strictSlashes: true };

/** Reads the ignore list; a pattern with "/" could never match a base name, so it is an error. */
export function ignorePatterns(yf: YamlFile, node: Node | null): string[] {
  const patterns: string[] = [];
  for (const { value, node: item } of yf.stringList(node, "ignore") ?? []) {
    if (value.includes("/")) {
      yf.error(
        item,
        "bad-value",
        `ignore pattern "${value}" contains "/": patterns match base names only`,
      );
    } else if (compile(value) === null) {
      yf.error(item, "bad-value", `invalid ignore pattern "${value}"`);
    } else patterns.push(value);
  }
  return patterns;
}

/** One pattern's test: picomatch's own matcher (the exact name, or its regular expression)
 * without its per-call bookkeeping, which costs more than the match itself (about 10 ms of
 * CPU for the 1,000 names of a files/ tree and the default patterns). */
function compile(pattern: string): ((name: string) => boolean) | null {
  try {
    const re = picomatch.makeRe(pattern, OPTIONS);
    return (name) => name !== "" && (name === pattern || re.test(name));
  } catch {
    return null;
  }
}

/** Tells which ignore pattern a base name matches. */
export class Ignore {
  private readonly tests: ((name: string) => boolean)[];

  constructor(private readonly patterns: readonly string[]) {
    this.tests = patterns.map((p) => compile(p) ?? (() => false));
  }

  /** The first pattern that `name` matches, or undefined. */
  match(name: string): string | undefined {
    const i = this.tests.findIndex((test) => test(name));
    return i < 0 ? undefined : this.patterns[i];
  }

  /** The first component of an absolute path that is ignored, with its pattern. */
  matchPath(p: string): { component: string; pattern: string } | undefined {
    for (const component of p.split("/")) {
      if (component === "") continue;
      const pattern = this.match(component);
      if (pattern !== undefined) return { component, pattern };
    }
    return undefined;
  }
}
