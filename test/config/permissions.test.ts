import { test } from "node:test";
import assert from "node:assert/strict";
import { formatMode, parsePermission } from "../../src/config/permissions.ts";

const valid: [string, ReturnType<typeof parsePermission>][] = [
  ["0640", { mode: 0o640, user: null, group: null }],
  ["640", { mode: 0o640, user: null, group: null }],
  ["1777", { mode: 0o1777, user: null, group: null }],
  ["4755 root root", { mode: 0o4755, user: "root", group: "root" }],
  [" 0600  1000\t50 ", { mode: 0o600, user: 1000, group: 50 }],
  ["0644 www-data _ssh", { mode: 0o644, user: "www-data", group: "_ssh" }],
];
for (const [text, want] of valid) {
  test(`parsePermission "${text}"`, () => assert.deepEqual(parsePermission(text), want));
}

const invalid: [string, RegExp][] = [
  ["", /invalid mode/],
  ["64", /invalid mode "64"/],
  ["12345", /invalid mode "12345"/],
  ["0o644", /invalid mode/],
  ["0648", /invalid mode/],
  ["0644 root", /expected "<mode>" or "<mode> <user> <group>"/],
  ["0644 root root extra", /expected/],
  ["0644 -root root", /invalid user "-root"/],
  ["0644 root 4294967295", /invalid group "4294967295"/],
];
for (const [text, re] of invalid) {
  test(`parsePermission rejects "${text}"`, () => {
    const result = parsePermission(text);
    assert.ok(typeof result === "string", "expected an error message");
    assert.match(result, re);
  });
}

test("formatMode", () => {
  assert.equal(formatMode(0o644), "0644");
  assert.equal(formatMode(0o1777), "1777");
});
