import { test } from "node:test";
import assert from "node:assert/strict";
import { escape, escapeBytes, quote } from "../../src/report/escape.ts";

// Control characters, DEL, C1 controls, format characters (Cf), line and
// paragraph separators; \t (0x09) and \n (0x0a) are allowed.
const FORBIDDEN = /(?![\t\n])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

test("ESC and CSI sequences become visible", () => {
  assert.equal(escape("a\x1b[2Jb"), "a\\x1b[2Jb");
  assert.equal(escape("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
});

test("OSC sequences (title, OSC 8 hyperlinks) become visible", () => {
  assert.equal(escape("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
  assert.equal(
    escape("\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"),
    "\\x1b]8;;https://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\",
  );
});

test("C1 controls, DEL and carriage return become visible", () => {
  assert.equal(escape("\u009b2J"), "\\x9b2J");
  assert.equal(escape("\u0080\u009f"), "\\x80\\x9f");
  assert.equal(escape("a\x7fb"), "a\\x7fb");
  assert.equal(escape("secret\rpublic"), "secret\\rpublic");
  assert.equal(escape("\x00\x08\x0b\x0c"), "\\x00\\x08\\x0b\\x0c");
});

test("newline and tab stay, other text is unchanged", () => {
  assert.equal(escape("a\tb\nc\n"), "a\tb\nc\n");
  const text = "Grüße, 日本語, emoji 😀, back\\slash, \u00a0nbsp, \u00ff";
  assert.equal(escape(text), text);
});

test("bidi overrides and isolates become visible", () => {
  assert.equal(escape("a\u202eb\u202ac"), "a\\u202eb\\u202ac");
  assert.equal(escape("\u2066\u2067\u2068\u2069"), "\\u2066\\u2067\\u2068\\u2069");
});

test("zero-width, line-separator and other format characters become visible", () => {
  // U+2028/U+2029 end a line in some terminals and editors; U+200B hides in a
  // name; U+200E/U+200F and U+061C reorder text like the bidi overrides.
  assert.equal(escape("a\u2028b\u2029c"), "a\\u2028b\\u2029c");
  assert.equal(escape("ad\u200bmin"), "ad\\u200bmin");
  assert.equal(
    escape("\u200c\u200d\u200e\u200f\u061c\u2060\ufeff"),
    "\\u200c\\u200d\\u200e\\u200f\\u061c\\u2060\\ufeff",
  );
  assert.equal(escape("soft\u00adhyphen"), "soft\\u00adhyphen");
  // Astral format characters (tags, musical formatting) keep their code point.
  assert.equal(escape("x\u{e0001}\u{e0041}y\u{1d173}"), "x\\u{e0001}\\u{e0041}y\\u{1d173}");
  assert.equal(quote("/etc/\u2028motd\u200b"), '"/etc/\\u2028motd\\u200b"');
  assert.equal(escapeBytes(Buffer.from("a\u2029b\u{e007f}")), "a\\u2029b\\u{e007f}");
});

test("every Cc, Cf, Zl and Zp code point is escaped, nothing else outside them", () => {
  const category = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue; // lone surrogates: below
    const c = String.fromCodePoint(cp);
    const dangerous = category.test(c) && c !== "\n" && c !== "\t";
    const out = escape(c);
    if (dangerous) assert.ok(out !== c && !category.test(out), `U+${cp.toString(16)}`);
    else assert.equal(out, c, `U+${cp.toString(16)}`);
  }
});

test("lone surrogates become visible, pairs stay", () => {
  assert.equal(escape("a\ud800b"), "a\\ud800b");
  assert.equal(escape("\udc00"), "\\udc00");
  assert.equal(escape("\ud800\ud83d\ude00\udfff"), "\\ud800😀\\udfff");
  assert.equal(escape("x\ud83d"), "x\\ud83d");
});

test("escapeBytes shows invalid UTF-8 bytes as \\xHH", () => {
  assert.equal(escapeBytes(Buffer.from("héllo\n")), "héllo\n");
  assert.equal(escapeBytes(Buffer.from([0x61, 0xff, 0x62])), "a\\xffb");
  // Truncated sequence, encoded surrogate (ED A0 80), overlong (C0 AF), beyond U+10FFFF.
  assert.equal(escapeBytes(Buffer.from([0xe2, 0x82, 0x41])), "\\xe2\\x82A");
  assert.equal(escapeBytes(Buffer.from([0xed, 0xa0, 0x80])), "\\xed\\xa0\\x80");
  assert.equal(escapeBytes(Buffer.from([0xc0, 0xaf])), "\\xc0\\xaf");
  assert.equal(escapeBytes(Buffer.from([0xf4, 0x90, 0x80, 0x80])), "\\xf4\\x90\\x80\\x80");
  // Valid text around invalid bytes is still escaped.
  assert.equal(
    escapeBytes(
      Buffer.concat([Buffer.from("\x1b[2J"), Buffer.from([0xfe]), Buffer.from("ü\u202e")]),
    ),
    "\\x1b[2J\\xfeü\\u202e",
  );
  // A C1 control encoded as UTF-8 (C2 9B) is escaped too.
  assert.equal(escapeBytes(Buffer.from([0xc2, 0x9b])), "\\x9b");
});

test("quote escapes quotes, backslashes and line breaks", () => {
  assert.equal(quote("/etc/motd"), '"/etc/motd"');
  assert.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(quote("a\nb\tc\rd\x1b"), '"a\\nb\\tc\\rd\\x1b"');
  assert.equal(quote("\u202e\ud800"), '"\\u202e\\ud800"');
});

test("very long lines are escaped completely", () => {
  const long = "x".repeat(100_000);
  assert.equal(escape(long), long);
  const hostile = "\x1b".repeat(100_000);
  const out = escape(hostile);
  assert.equal(out, "\\x1b".repeat(100_000));
  const mixed = "\ud800a".repeat(50_000) + "\x9b".repeat(50_000);
  const outMixed = escape(mixed);
  assert.equal(outMixed.length, 50_000 * 7 + 50_000 * 4);
  const bytes = escapeBytes(Buffer.alloc(100_000, 0xff));
  assert.equal(bytes.length, 400_000);
});

/** mulberry32: a small seeded PRNG, so a failure can be reproduced. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("property: escape never lets a control character or lone surrogate through", () => {
  const random = prng(42);
  // Biased towards the interesting ranges: C0, C1, surrogates, bidi, ASCII.
  const ranges: [number, number][] = [
    [0x00, 0x20],
    [0x7f, 0xa0],
    [0xd800, 0xe000],
    [0x202a, 0x202f],
    [0x2066, 0x206a],
    [0x2000, 0x2070],
    [0xfe00, 0xff00],
    [0x20, 0x7f],
    [0x00, 0x10000],
  ];
  for (let i = 0; i < 3000; i++) {
    const units: number[] = [];
    const len = Math.floor(random() * 40);
    for (let j = 0; j < len; j++) {
      const [lo, hi] = ranges[Math.floor(random() * ranges.length)];
      units.push(lo + Math.floor(random() * (hi - lo)));
    }
    const input = String.fromCharCode(...units);
    for (const out of [escape(input), quote(input), escapeBytes(Buffer.from(units))]) {
      assert.doesNotMatch(out, FORBIDDEN, JSON.stringify(input));
      assert.doesNotMatch(out, LONE_SURROGATE, JSON.stringify(input));
    }
    assert.doesNotMatch(quote(input), /[\n\t]/);
    // Nothing is dropped: text without anything to escape is unchanged.
    if (!FORBIDDEN.test(input) && !LONE_SURROGATE.test(input)) assert.equal(escape(input), input);
  }
});
