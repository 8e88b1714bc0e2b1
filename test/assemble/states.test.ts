// Packages and services of one host from several groups (SPEC 3.5, 3.6): a
// name stated differently by two groups is decided by priority like a file;
// two groups without an order are a conflict that names both.

import assert from "node:assert/strict";
import { test } from "node:test";
import { build, buildError } from "./build.ts";

const hosts = "groups.yaml";

test("a host group's absent wins over all's present; the order of first mention is kept", () => {
  const b = build({
    [hosts]: "web: [h1]\n",
    "all/packages.yaml": "- htop\n- telnet\n- vim\n",
    "web/packages.yaml": "- nginx\n- name: vim\n  recommends: true\n",
    "h1/packages.yaml": "- name: telnet\n  state: absent\n",
  });
  assert.deepEqual(b.packages, [
    { name: "htop", state: "present", recommends: false },
    { name: "telnet", state: "absent", recommends: false },
    { name: "vim", state: "present", recommends: true },
    { name: "nginx", state: "present", recommends: false },
  ]);
});

test("group_order decides between two groups; the same statement in both is no conflict (started is enabled: true)", () => {
  const b = build({
    "config.yaml": "group_order: [legacy, modern]\n",
    [hosts]: "legacy: [h1]\nmodern: [h1]\nother: [h1]\n",
    "legacy/services.yaml": "- apache2\n- cron\n",
    "modern/services.yaml": "- name: apache2\n  state: stopped\n  enabled: false\n",
    "other/services.yaml": "- name: cron\n  enabled: true\n",
  });
  // Unordered groups come before those of group_order (prioritySort), so "other" lists first.
  assert.deepEqual(b.services, [
    { name: "cron", state: "started", enabled: null },
    { name: "apache2", state: "stopped", enabled: false },
  ]);
});

test("present and absent from two unordered groups is a conflict naming both groups", () => {
  const err = buildError({
    [hosts]: "web: [h1]\nhardening: [h1]\n",
    "web/packages.yaml": "- telnet\n",
    "hardening/packages.yaml": "- name: telnet\n  state: absent\n",
  });
  assert.equal(
    err.message,
    'conflict: groups "hardening" and "web" both list package "telnet" (absent; present); order the two groups with group_order in config.yaml',
  );
});

test("started and masked from two unordered groups is a conflict naming both groups", () => {
  const err = buildError({
    [hosts]: "web: [h1]\nhardening: [h1]\n",
    "web/services.yaml": "- rpcbind\n",
    "hardening/services.yaml": "- name: rpcbind\n  state: masked\n",
  });
  assert.match(
    err.message,
    /^conflict: groups "hardening" and "web" both list service "rpcbind" \(masked; started\)/,
  );
});
