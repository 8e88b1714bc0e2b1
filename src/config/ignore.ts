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
    } else if (compile([value]) === null) {
      yf.error(item, "bad-value", `invalid ignore pattern "${value}"`);
    } else patterns.push(value);
  }
  return patterns;
}

function compile(patterns: readonly string[]): ((name: string) => boolean) | null {
  try {
    return picomatch([...patterns], OPTIONS);
  } catch {
    return null;
  }
}

/** Tells which ignore pattern a base name matches. */
export class Ignore {
  private readonly matches: (name: string) => boolean;

  constructor(private readonly patterns: readonly string[]) {
    this.matches = patterns.length === 0 ? () => false : (compile(patterns) ?? (() => false));
  }

  /** The first pattern that `name` matches, or undefined. */
  match(name: string): string | undefined {
    if (!this.matches(name)) return undefined;
    return this.patterns.find((p) => picomatch.isMatch(name, p, OPTIONS));
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
