// The loader looks for repeated keys in one pass per mapping (src/config/yaml.ts
// duplicateKeys) and has the yaml package's `uniqueKeys: true`, which compares
// every key with each earlier one, report them only when there is one. The two
// checks must agree: random documents with few distinct keys (so that repeats
// are common) in block and flow mappings, nested, with quoting, tags, anchors,
// aliases, explicit and empty keys, numbers and NaN.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseDocument } from "yaml";
import { duplicateKeys, Problems, YamlFile } from "../../src/config/yaml.ts";

const key = fc.constantFrom(
  "a",
  "b",
  '"a"',
  "'b'",
  "1",
  '"1"',
  "0x1",
  "1.0",
  ".nan",
  ".NaN",
  "~",
  "null",
  "true",
  "!!str 1",
  "&k a",
  "*k",
  "? a",
  "",
  "[a]",
  "{a: 1}",
);

/** A mapping as YAML text at `indent`, in block or flow style, with nested mappings. */
const mapping: fc.Memo<string> = fc.memo((depth: number) =>
  fc.oneof(
    fc
      .array(
        fc.tuple(
          key,
          depth > 1 ? fc.oneof(fc.constant("v"), mapping(depth - 1)) : fc.constant("v"),
        ),
        { minLength: 1, maxLength: 6 },
      )
      .map((pairs) => `{${pairs.map(([k, v]) => `${k}: ${v.replaceAll("\n", " ")}`).join(", ")}}`),
    fc
      .array(fc.tuple(key, fc.constant("v")), { minLength: 1, maxLength: 8 })
      .map((pairs) =>
        pairs.map(([k, v]) => (k.startsWith("?") ? `${k}\n: ${v}` : `${k}: ${v}`)).join("\n"),
      ),
  ),
);

const document = fc
  .array(fc.tuple(key, mapping(3)), { minLength: 1, maxLength: 5 })
  .map((pairs) =>
    pairs
      .map(([k, v]) => (v.startsWith("{") ? `${k}: ${v}` : `${k}:\n${v.replace(/^/gm, "  ")}`))
      .join("\n"),
  );

/** The offsets of yaml's own DUPLICATE_KEY errors. */
function yamlsOwn(text: string): number[] {
  return parseDocument(text, { uniqueKeys: true })
    .errors.filter((e) => e.code === "DUPLICATE_KEY")
    .map((e) => e.pos[0]);
}

test("the one-pass check finds as many repeated keys as yaml's uniqueKeys", () => {
  let found = 0;
  fc.assert(
    fc.property(document, (text) => {
      const expected = yamlsOwn(text);
      const keys = duplicateKeys(parseDocument(text, { uniqueKeys: false }));
      assert.equal(keys.length, expected.length, `${text}\nyaml: ${expected.join(", ")}`);
      found += expected.length;
    }),
    { numRuns: 500 },
  );
  assert.ok(found > 100, `the documents had repeated keys (${found})`);
});

test("the loader reports a duplicate key with file, line and column, once, among the other problems", () => {
  const problems = new Problems();
  const file = YamlFile.parse(
    "groups.yaml",
    "a: [x]\nb: [y\n\nc: {k: 1, k: 2}\na: [z]\n",
    problems,
  );
  assert.equal(file.ok, false);
  const duplicates = problems.list.filter((p) => p.code === "duplicate-key");
  assert.deepEqual(
    duplicates.map((p) => p.pos),
    [
      { file: "groups.yaml", line: 4, col: 11 },
      { file: "groups.yaml", line: 5, col: 1 },
    ],
  );
  assert.ok(
    problems.list.some((p) => p.code === "yaml-syntax"),
    "the syntax error too",
  );
});
