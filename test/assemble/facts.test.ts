// What templates see as `facts` (SPEC 3.4): the host's built-in facts and those of detect_vars,
// strict like variables; and the placeholders `safcm check` renders with, having no host.

import assert from "node:assert/strict";
import { test } from "node:test";
import { factValues } from "../../src/assemble/context.ts";
import type { BuiltHost, HostFacts } from "../../src/assemble/host-config.ts";
import type { Facts } from "../../src/protocol/messages.ts";
import type { Tree } from "../helpers/tree.ts";
import { build, buildError, facts as noFacts } from "./build.ts";

const BUILT_IN: Facts = {
  hostname: "web1",
  os: "linux",
  arch: "x64",
  kernel: "6.1.0-18-amd64",
  os_id: "debian",
  os_version_id: "12",
  os_codename: "bookworm",
  os_like: "",
  ipv4: ["192.0.2.10", "198.51.100.7"],
  ipv6: ["2001:db8::10"],
  cpus: 4,
  memory_mib: 7961,
};

/** A host of a sync: its built-in facts and `detected` from detect_vars. */
function host(detected: Record<string, string> = {}): HostFacts {
  return { ...noFacts, facts: factValues(BUILT_IN, new Map(Object.entries(detected))) };
}

function template(text: string, config = ""): Tree {
  return {
    "config.yaml": config,
    "all/files/out": text,
    "all/templates.yaml": "- /out\n",
  };
}

const out = (b: BuiltHost) => b.content.get("/out")?.toString();

test("templates see every built-in fact: strings, address lists and counts", () => {
  const text = [
    "{{ facts.hostname }} {{ facts.os }}/{{ facts.arch }} {{ facts.kernel }}",
    "{{ facts.os_id }} {{ facts.os_version_id }} {{ facts.os_codename }} [{{ facts.os_like }}]",
    "listen {{ facts.ipv4 | first }}; all: {{ facts.ipv4 | join: ',' }} {{ facts.ipv6 | join: ',' }}",
    "workers {{ facts.cpus | times: 2 }}, cache {{ facts.memory_mib | divided_by: 4 | floor }}M",
    "",
  ].join("\n");
  assert.equal(
    out(build(template(text), "h1", host())),
    [
      "web1 linux/x64 6.1.0-18-amd64",
      "debian 12 bookworm []",
      "listen 192.0.2.10; all: 192.0.2.10,198.51.100.7 2001:db8::10",
      "workers 8, cache 1990M",
      "",
    ].join("\n"),
  );
});

test('"Debian >= 12" in Liquid: | plus: 0 makes a version a number to compare', () => {
  const text =
    "{% assign v = facts.os_version_id | plus: 0 %}{% if facts.os_id == 'debian' and v >= 12 %}new{% else %}old{% endif %}";
  assert.equal(out(build(template(text), "h1", host())), "new");
});

test("detect_vars facts are strings beside the built-in ones", () => {
  const text = "php {{ facts.php_version }}{% if facts.php_version == '8.2' %} current{% endif %}";
  assert.equal(out(build(template(text), "h1", host({ php_version: "8.2" }))), "php 8.2 current");
});

test("an unknown fact is an error, like an unknown variable", () => {
  const message = buildError(template("a\n{{ facts.os_idd }}\n"), host()).message;
  assert.match(message, /^template error in group "all" at all\/files\/out:2: /);
  assert.match(message, /undefined variable: facts\.os_idd/);
  // A name of detect_vars that this host's commands did not print.
  assert.match(
    buildError(template("{{ facts.php_version }}"), host({ php: "8" })).message,
    /undefined variable: facts\.php_version/,
  );
});

test("a fact named like an Object property is a fact, and prototypes are not reachable", () => {
  assert.equal(
    out(
      build(
        template("{{ facts.__proto__ }}"),
        "h1",
        host(JSON.parse('{"__proto__": "x"}') as Record<string, string>),
      ),
    ),
    "x",
  );
  assert.match(
    buildError(template("{{ facts.constructor }}"), host()).message,
    /facts\.constructor/,
  );
});

test("check (no host): documented placeholders; unknown built-in names still errors", () => {
  const text =
    "{{ facts.hostname }}|{{ facts.os_id }}|{{ facts.ipv4 | join: ',' }}|{{ facts.cpus }}|{{ facts.memory_mib }}";
  assert.equal(out(build(template(text))), "h1|||1|0");
  assert.match(buildError(template("{{ facts.os_idd }}")).message, /facts\.os_idd/);
  // Without detect_vars no other fact can exist; with it, any name may come from the host.
  assert.match(buildError(template("{{ facts.php_version }}")).message, /facts\.php_version/);
  const detecting = template(
    "[{{ facts.php_version }}]",
    "detect_vars: ['php-config --version']\n",
  );
  assert.equal(out(build(detecting)), "[]");
  // (which is why check cannot tell a typo from a name only the host prints: a sync can)
  assert.equal(out(build(template("[{{ facts.os_idd }}]", "detect_vars: [x]\n"))), "[]");
});
