import assert from "node:assert/strict";
import { test } from "node:test";
import { validateResponse, ValidationError } from "../../src/protocol/validate.ts";

const info = { type: "file", mode: 0o644, user: "root", uid: 0, group: "root", gid: 0 };
const change = { path: "/etc/motd", created: true, old: null, new: info, content_changed: false };
const syncResponse = {
  type: "sync_response",
  files: [change],
  packages: [],
  services: [],
  commands: [],
  error: null,
};

test("valid messages pass unchanged", () => {
  assert.deepEqual(validateResponse({ type: "log", level: "info", text: "hi" }, 0), {
    type: "log",
    level: "info",
    text: "hi",
  });
  assert.deepEqual(validateResponse(syncResponse, 0), syncResponse);
  const withData = {
    ...change,
    created: false,
    old: info,
    content_changed: true,
    old_data_offset: 2,
    old_data_length: 3,
  };
  assert.deepEqual(
    validateResponse({ ...syncResponse, files: [withData] }, 5).type,
    "sync_response",
  );
  const aclRemoved = { ...change, created: false, old: info, acl_removed: true };
  assert.deepEqual(validateResponse({ ...syncResponse, files: [aclRemoved] }, 0), {
    ...syncResponse,
    files: [aclRemoved],
  });
  // absent.yaml: a removed entry's `new` repeats `old`.
  const removed = { ...change, created: false, old: info, new: info, removed: true };
  assert.deepEqual(validateResponse({ ...syncResponse, files: [removed] }, 0), {
    ...syncResponse,
    files: [removed],
  });
});

// Each case: a message a hostile helper could send, and the part of the error that names the problem.
const bad: [string, unknown, RegExp][] = [
  ["not an object", "hello", /not an object/],
  ["array", [1], /not an object/],
  ["unknown type", { type: "shell" }, /unknown type "shell"/],
  ["extra field", { type: "log", level: "info", text: "x", extra: 1 }, /unexpected field "extra"/],
  ["missing field", { type: "log", level: "info" }, /missing field "text"/],
  ["bad level", { type: "log", level: "panic", text: "x" }, /log\.level/],
  ["huge log line", { type: "log", level: "info", text: "x".repeat(70000) }, /longer than/],
  [
    "mode out of range",
    { ...syncResponse, files: [{ ...change, new: { ...info, mode: 0o10000 } }] },
    /mode/,
  ],
  ["negative uid", { ...syncResponse, files: [{ ...change, new: { ...info, uid: -1 } }] }, /uid/],
  ["float gid", { ...syncResponse, files: [{ ...change, new: { ...info, gid: 1.5 } }] }, /gid/],
  ["bad type", { ...syncResponse, files: [{ ...change, new: { ...info, type: "door" } }] }, /type/],
  [
    "created but old",
    { ...syncResponse, files: [{ ...change, old: info }] },
    /created does not match/,
  ],
  [
    "data outside attachment",
    {
      ...syncResponse,
      files: [{ ...change, created: false, old: info, old_data_offset: 3, old_data_length: 10 }],
    },
    /outside the attachment/,
  ],
  ["string as error", { ...syncResponse, error: 5 }, /error/],
  [
    "acl_removed other than true",
    { ...syncResponse, files: [{ ...change, created: false, old: info, acl_removed: false }] },
    /acl_removed: not true/,
  ],
  [
    "acl_removed on a created entry",
    { ...syncResponse, files: [{ ...change, acl_removed: true }] },
    /acl_removed on a created entry/,
  ],
  [
    "removed other than true",
    { ...syncResponse, files: [{ ...change, created: false, old: info, removed: 1 }] },
    /removed: not true/,
  ],
  [
    "removed where nothing was",
    { ...syncResponse, files: [{ ...change, removed: true }] },
    /removed but nothing was there/,
  ],
];

for (const [name, message, expected] of bad) {
  test(`rejects ${name}`, () => {
    assert.throws(
      () => validateResponse(message, 5),
      (err: unknown) => err instanceof ValidationError && expected.test(err.message),
    );
  });
}
