import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import { memberGroups, possibleGroups } from "../../src/config/groups.ts";
import { loadConfig } from "../../src/config/load.ts";
import { isTarget, resolveTargets } from "../../src/config/targets.ts";
import { configDir } from "../helpers/tree.ts";

const hosts = "- name: web1\n- name: web2\n- name: db1\n- name: image\n";

const groupsYaml = `
webservers:
  - web1
  - web2
debian:
  - detected_debian
monitored:
  - webservers
  - db1
monitored_remove:
  - web2
everything:
  - all
everything_remove:
  - monitored
  - detected_bsd
nested:
  - monitored
`;

const config = loadConfig(configDir({ "hosts.yaml": hosts, "groups.yaml": groupsYaml }));

// host, detected groups -> groups.yaml groups
const membership: [string, string[], string[]][] = [
  ["web1", [], ["webservers", "monitored", "nested"]],
  ["web2", [], ["webservers", "everything"]],
  ["db1", [], ["monitored", "nested"]],
  ["image", [], ["everything"]],
  ["image", ["detected_debian"], ["debian", "everything"]],
  ["image", ["detected_bsd"], []],
  ["web2", ["detected_debian"], ["webservers", "debian", "everything"]],
];
for (const [host, detected, want] of membership) {
  test(`group membership: ${host} with [${detected.join(", ")}]`, () => {
    assert.deepEqual(memberGroups(config.groups, host, detected).sort(), want.sort());
  });
}

// host -> groups.yaml groups it is or may be in, whatever it is detected in (secrets are
// resolved for these): everything_remove names detected_bsd, so web2 and image only "may" be in it.
const possible: [string, string[]][] = [
  ["web1", ["webservers", "debian", "monitored", "nested"]],
  ["web2", ["webservers", "debian", "everything"]],
  ["db1", ["debian", "monitored", "nested"]],
  ["image", ["debian", "everything"]],
];
for (const [host, want] of possible) {
  test(`possible groups of ${host}`, () => {
    assert.deepEqual(possibleGroups(config.groups, host), want);
    // Every membership some detection gives is among them.
    for (const detected of [
      [],
      ["detected_debian"],
      ["detected_bsd"],
      ["detected_debian", "detected_bsd"],
    ]) {
      for (const g of memberGroups(config.groups, host, detected)) assert.ok(want.includes(g), g);
    }
  });
}

test("a _remove list applies after expansion, also for nested groups", () => {
  const c = loadConfig(
    configDir({
      "hosts.yaml": hosts,
      "groups.yaml":
        "a:\n  - b\n  - db1\nb:\n  - all\na_remove:\n  - webs\nwebs:\n  - web1\n  - web2\n",
    }),
  );
  assert.deepEqual(memberGroups(c.groups, "web1", []).sort(), ["b", "webs"]);
  assert.deepEqual(memberGroups(c.groups, "image", []).sort(), ["a", "b"]);
});

const targets: [string[], string[]][] = [
  [["web1"], ["web1"]],
  [["all"], ["web1", "web2", "db1", "image"]],
  [
    ["db1", "webservers"],
    ["web1", "web2", "db1"],
  ],
  [
    ["monitored", "web1", "nested"],
    ["web1", "db1"],
  ],
  // Groups whose members depend on detected groups name every host as a
  // candidate; the session keeps those that belong after detection (isTarget).
  [["debian"], ["web1", "web2", "db1", "image"]],
  [["everything"], ["web1", "web2", "db1", "image"]],
  [["detected_debian"], ["web1", "web2", "db1", "image"]],
];
for (const [names, want] of targets) {
  test(`resolveTargets ${names.join(" ")}`, () => {
    assert.deepEqual(
      resolveTargets(config, names).map((h) => h.name),
      want,
    );
  });
}

test("resolveTargets: unknown names are errors, each one listed", () => {
  assert.throws(
    () => resolveTargets(config, ["web1", "webserverz", "detected_", "dbz"]),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 3);
      assert.deepEqual(
        err.problems.map((p) => p.code),
        ["unknown-name", "unknown-name", "unknown-name"],
      );
      assert.equal(err.problems[0]?.pos, undefined);
      assert.match(err.problems[0]?.message ?? "", /unknown host or group "webserverz"/);
      assert.match(err.problems[2]?.message ?? "", /unknown host or group "dbz"/);
      return true;
    },
  );
});

test("isTarget: after detection, a host is a target by name, by group (detected ones included) or by all", () => {
  const groups = (host: string, detected: string[]) => [
    "all",
    host,
    ...memberGroups(config.groups, host, detected),
    ...detected,
  ];
  assert.equal(isTarget(["debian"], "image", groups("image", ["detected_debian"])), true);
  assert.equal(isTarget(["debian"], "image", groups("image", ["detected_bsd"])), false);
  assert.equal(isTarget(["detected_bsd"], "db1", groups("db1", ["detected_bsd"])), true);
  assert.equal(isTarget(["everything"], "image", groups("image", ["detected_bsd"])), false);
  assert.equal(isTarget(["everything"], "image", groups("image", [])), true);
  assert.equal(isTarget(["web1"], "web1", groups("web1", [])), true);
  assert.equal(isTarget(["all"], "db1", groups("db1", [])), true);
});

test("cycles through _remove lists are found too", () => {
  assert.throws(
    () =>
      loadConfig(
        configDir({
          "hosts.yaml": hosts,
          "groups.yaml": "a:\n  - all\na_remove:\n  - b\nb:\n  - a\n",
        }),
      ),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.problems.map((p) => [p.code, p.pos?.file, p.pos?.line, p.message]),
        [["cycle", "groups.yaml", 1, "cycle in groups: a -> b -> a"]],
      );
      return true;
    },
  );
});
