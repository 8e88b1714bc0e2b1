// The helper's report of packages and services is checked against what was
// sent (SPEC 8): a host cannot report a package it was not asked about, or
// an action its entry did not ask for (an "installed" for a package stated
// absent, a "started" for a unit stated masked).

import assert from "node:assert/strict";
import { test } from "node:test";
import type { BuiltHost } from "../../src/assemble/host-config.ts";
import type { PackageChange, ServiceChange, SyncResponse } from "../../src/protocol/messages.ts";
import { applyResponse } from "../../src/session/replies.ts";
import { host } from "../report/fixtures.ts";

const built: BuiltHost = {
  groups: ["all", "web1"],
  files: [],
  content: new Map(),
  triggers: [],
  commands: [],
  secrets: [],
  origins: [],
  secretTemplates: new Set(),
  packages: [
    { name: "htop", state: "present", recommends: false },
    { name: "telnet", state: "absent", recommends: false },
  ],
  services: [
    { name: "nginx", state: "started", enabled: null },
    { name: "apache2", state: "stopped", enabled: false },
    { name: "rpcbind", state: "masked", enabled: null },
  ],
};

function reply(packages: PackageChange[], services: ServiceChange[] = []) {
  const response: SyncResponse = {
    type: "sync_response",
    files: [],
    packages,
    services,
    commands: [],
    error: null,
  };
  return { ...response, attachment: Buffer.alloc(0) };
}

function svc(name: string, ...done: (keyof Omit<ServiceChange, "name">)[]): ServiceChange {
  const flag = (f: keyof Omit<ServiceChange, "name">) => done.includes(f);
  return {
    name,
    started: flag("started"),
    stopped: flag("stopped"),
    enabled: flag("enabled"),
    disabled: flag("disabled"),
    masked: flag("masked"),
  };
}

test("changes that match their entries fill the result", () => {
  const result = host();
  const packages: PackageChange[] = [
    { name: "telnet", action: "removed" },
    { name: "htop", action: "installed" },
  ];
  const services = [
    svc("nginx", "started", "enabled"),
    svc("apache2", "stopped", "disabled"),
    svc("rpcbind", "stopped", "masked"),
  ];
  applyResponse(result, built, reply(packages, services));
  assert.deepEqual([result.packages, result.services], [packages, services]);
});

test("an action the entry did not ask for is a protocol error", () => {
  const cases: [PackageChange[], ServiceChange[], string][] = [
    [[{ name: "telnet", action: "installed" }], [], "telnet"],
    [[{ name: "htop", action: "removed" }], [], "htop"],
    [[{ name: "vim", action: "installed" }], [], "vim"],
    [
      [
        { name: "htop", action: "installed" },
        { name: "htop", action: "installed" },
      ],
      [],
      "htop",
    ],
    [[], [svc("rpcbind", "started")], "rpcbind"],
    [[], [svc("nginx", "stopped")], "nginx"],
    [[], [svc("apache2", "enabled")], "apache2"],
    [[], [svc("nginx", "disabled")], "nginx"],
  ];
  for (const [packages, services, name] of cases) {
    assert.throws(
      () => applyResponse(host(), built, reply(packages, services)),
      { message: `protocol error: helper reported a change that was not asked for: "${name}"` },
      JSON.stringify([packages, services]),
    );
  }
});
