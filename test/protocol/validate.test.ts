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
  const states = {
    ...syncResponse,
    packages: [
      { name: "telnet", action: "removed" },
      { name: "htop", action: "installed" },
    ],
    services: [
      {
        name: "rpcbind",
        started: false,
        stopped: true,
        enabled: false,
        disabled: false,
        masked: true,
      },
    ],
  };
  assert.deepEqual(validateResponse(states, 0), states);
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
const service = {
  name: "nginx",
  started: true,
  stopped: false,
  enabled: true,
  disabled: false,
  masked: false,
};
const bad: [string, unknown, RegExp][] = [
  ["package as a string", { ...syncResponse, packages: ["htop"] }, /packages\[0\]: not an object/],
  [
    "package action other than installed or removed",
    { ...syncResponse, packages: [{ name: "htop", action: "purged" }] },
    /packages\[0\]\.action/,
  ],
  [
    "service without the new flags",
    { ...syncResponse, services: [{ name: "nginx", started: true, enabled: true }] },
    /missing field "stopped"/,
  ],
  [
    "service started and stopped",
    { ...syncResponse, services: [{ ...service, stopped: true }] },
    /started together with stopped or masked/,
  ],
  [
    "service enabled and masked",
    { ...syncResponse, services: [{ ...service, started: false, masked: true }] },
    /enabled together with disabled or masked/,
  ],
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

// SPEC 3.4: the facts come from an untrusted host and end up in its templates; only the exact
// shape passes.
const facts = {
  hostname: "web1",
  os: "linux",
  arch: "x64",
  kernel: "6.1.0-18-amd64",
  os_id: "debian",
  os_version_id: "12",
  os_codename: "bookworm",
  os_like: "",
  ipv4: ["192.0.2.10"],
  ipv6: ["2001:db8::10", "fe80::1"],
  cpus: 4,
  memory_mib: 7961,
};
const infoResponse = {
  type: "info_response",
  version: 1,
  os: "debian",
  arch: "x64",
  node_version: "20.0.0",
  uid: 0,
  gid: 0,
  user: "root",
  group: "root",
  detect_groups: [],
  detect_vars: [{ command: "echo a=1", exit_code: 0, output: "a=1\n", stderr: "" }],
  facts,
};

test("an info response with facts and detect_vars results passes unchanged", () => {
  assert.deepEqual(validateResponse(infoResponse, 0), infoResponse);
});

const badFacts: [string, Record<string, unknown>, RegExp][] = [
  ["an extra fact", { ...facts, secret: "x" }, /facts: unexpected field "secret"/],
  ["a missing fact", { ...facts, cpus: undefined }, /facts: missing field "cpus"|facts\.cpus/],
  ["a control character", { ...facts, os_id: "debian\x1b[2J" }, /facts\.os_id: .*control/],
  ["a C1 control character", { ...facts, hostname: "web\x9b1" }, /facts\.hostname: .*control/],
  ["a huge string", { ...facts, kernel: "x".repeat(5000) }, /facts\.kernel: string longer/],
  ["a number as a string", { ...facts, os_version_id: 12 }, /facts\.os_version_id: not a string/],
  ["an address that is none", { ...facts, ipv4: ["192.0.2.300"] }, /facts\.ipv4\[0\]: not an IPv4/],
  [
    "an IPv4 address among IPv6",
    { ...facts, ipv6: ["192.0.2.1"] },
    /facts\.ipv6\[0\]: not an IPv6/,
  ],
  ["a list of too many", { ...facts, ipv4: Array(5000).fill("192.0.2.1") }, /more than 4096/],
  ["no CPU", { ...facts, cpus: 0 }, /facts\.cpus: not an integer/],
  ["a fractional memory size", { ...facts, memory_mib: 1.5 }, /facts\.memory_mib/],
  ["facts not an object", { ...facts, ipv4: "192.0.2.1" }, /facts\.ipv4: not an array/],
];
for (const [name, bad, expected] of badFacts) {
  test(`rejects facts with ${name}`, () => {
    const message = { ...infoResponse, facts: JSON.parse(JSON.stringify(bad)) as unknown };
    assert.throws(
      () => validateResponse(message, 0),
      (err: unknown) => err instanceof ValidationError && expected.test(err.message),
    );
  });
}

test("rejects an info response without facts or detect_vars results", () => {
  for (const key of ["facts", "detect_vars"]) {
    const message: Record<string, unknown> = { ...infoResponse };
    delete message[key];
    assert.throws(() => validateResponse(message, 0), new RegExp(`missing field "${key}"`));
  }
});
