// The manual's links work: every relative link of README.md, SECURITY.md and
// docs/*.md names a file of the repository, and every #anchor names a heading
// of that file (GitHub's slugs: lower case, punctuation dropped, spaces to -).

import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { test } from "node:test";

const files = ["README.md", "SECURITY.md", ...readdirSync("docs").map((f) => join("docs", f))];

function slugs(file: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("```")) fence = !fence;
    const m = fence ? null : /^#{1,6} (.*)$/.exec(line);
    if (m === null) continue;
    const slug = (m[1] ?? "")
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replace(/ /g, "-");
    out.add(slug);
  }
  return out;
}

test("every relative link of the README, SECURITY.md and docs/ leads somewhere", () => {
  const broken: string[] = [];
  for (const file of files.filter((f) => f.endsWith(".md"))) {
    const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target === undefined || /^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split("#");
      const dest = path === "" || path === undefined ? file : normalize(join(dirname(file), path));
      if (!existsSync(dest)) broken.push(`${file}: ${target} (no ${dest})`);
      else if (anchor !== undefined && dest.endsWith(".md") && !slugs(dest).has(anchor)) {
        broken.push(`${file}: ${target} (no heading "${anchor}" in ${dest})`);
      }
    }
  }
  assert.deepEqual(broken, []);
});
