// Jinja habits answered in Liquid's words (SPEC 3.4, issue 20): a bare variable name, an
// Ansible fact's name, "| int" and other Jinja filters, "| default(3)", "~", and "| default:"
// for a variable that does not exist in strict mode each get a hint saying what to write.

import assert from "node:assert/strict";
import { test } from "node:test";
import { factValues } from "../../src/assemble/context.ts";
import type { HostFacts } from "../../src/assemble/host-config.ts";
import { loadConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/errors.ts";
import type { Facts } from "../../src/protocol/messages.ts";
import { configDir, type Tree } from "../helpers/tree.ts";
import { buildError, facts as noFacts } from "./build.ts";

const BUILT_IN: Facts = {
  hostname: "web1",
  os: "linux",
  arch: "x64",
  kernel: "6.1.0",
  os_id: "debian",
  os_version_id: "12",
  os_codename: "bookworm",
  os_like: "",
  ipv4: [],
  ipv6: [],
  cpus: 2,
  memory_mib: 1024,
};
const host: HostFacts = {
  ...noFacts,
  facts: factValues(BUILT_IN, new Map([["rack", "r1"]])),
};

function template(text: string): Tree {
  return {
    "all/vars.yaml": "security_ssh_port: 2222\nport: 80\n",
    "all/files/out": text,
    "all/templates.yaml": "- /out\n",
  };
}

/** The error of rendering `text` for a host with facts. */
const renderError = (text: string) => buildError(template(text), host).message;

/** The problem found when loading (parsing) `text`. */
function parseError(text: string): string {
  try {
    loadConfig(configDir(template(text)));
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => p.message).join("\n");
  }
  assert.fail("expected a ConfigError");
}

test("a bare name that is a variable or a fact: the error says where it is", () => {
  assert.equal(
    renderError("Port {{ security_ssh_port }}\n"),
    'template error in group "all" at all/files/out:1: undefined variable: security_ssh_port (templates see variables under vars. and facts under facts., not as bare names as in Jinja: write vars.security_ssh_port)',
  );
  assert.match(
    renderError("{% if os_id == 'debian' %}x{% endif %}"),
    /undefined variable: os_id \(templates see .*: write facts\.os_id\)$/,
  );
  assert.match(renderError("{{ rack }}"), /: write facts\.rack\)$/);
  // A fact under vars., a variable under facts.
  assert.match(
    renderError("{{ vars.os_id }}"),
    /undefined variable: vars\.os_id \(os_id is a fact, not a variable: write facts\.os_id\)$/,
  );
  assert.match(
    renderError("{{ facts.port }}"),
    /undefined variable: facts\.port \(port is a variable, not a fact: write vars\.port\)$/,
  );
  // Nothing of the kind: no hint.
  assert.match(renderError("{{ nothing }}"), /undefined variable: nothing$/);
  assert.match(renderError("{{ vars.prot }}"), /undefined variable: vars\.prot$/);
});

test("an Ansible name: safcm's name for it", () => {
  assert.match(
    renderError("{{ ansible_distribution_release }}"),
    /undefined variable: ansible_distribution_release \(a Jinja or Ansible name: safcm's is facts\.os_codename\)$/,
  );
  assert.match(renderError("{{ inventory_hostname }}"), /safcm's is host\)$/);
  assert.match(
    renderError("{% for p in (1..2) %}{{ loop.index }}{% endfor %}"),
    /undefined variable: loop \(a Jinja or Ansible name: safcm's is forloop \(forloop\.index, /,
  );
});

test('"| default:" for a variable that does not exist, in strict mode: set it in all/vars.yaml', () => {
  const hint =
    '(in strict mode "| default:" cannot stand in for a variable that does not exist (it replaces only nil, false and empty values): set the default in all/vars.yaml, which every other group overrides)';
  assert.ok(
    renderError("a\n{{ vars.workers | default: 4 }}\n").endsWith(
      `all/files/out:2: undefined variable: vars.workers ${hint}`,
    ),
  );
  assert.ok(renderError("{% assign w = vars.w|default:4 %}{{ w }}").endsWith(hint));
  assert.ok(renderError("{% if vars.tls | default: false %}tls{% endif %}").endsWith(hint));
  // default works on a variable that exists (nil, false, empty): no error at all there, and
  // no default hint for an undefined name elsewhere in the template.
  assert.match(
    renderError("{{ vars.port | default: 8 }} {{ vars.missing }}"),
    /undefined variable: vars\.missing$/,
  );
});

test("Jinja filters: the Liquid way, when the template is loaded", () => {
  assert.match(
    parseError("{{ vars.port | int }}"),
    /undefined filter: int \(Liquid has no int filter: "\| plus: 0" turns a number in a string into a number\)$/,
  );
  assert.match(
    parseError("{{ vars.port | length }}"),
    /undefined filter: length \(Liquid's is "\| size"\)$/,
  );
  assert.match(parseError("{{ vars.port | lower }}"), /\(Liquid's is "\| downcase"\)$/);
  assert.match(parseError("{{ vars.port | frobnicate }}"), /undefined filter: frobnicate$/);
  assert.match(
    parseError("{{ vars.port | default(8) }}"),
    /expected ":" after filter name \(Liquid writes a filter's arguments after a colon, "\| default: 3" or "\| replace: 'a', 'b'", not in parentheses as Jinja does\)$/,
  );
  assert.match(
    parseError("{% if vars.port %}{% elif vars.x %}{% endif %}"),
    /tag "elif" not found \(Liquid's is "\{% elsif %\}"\)$/,
  );
  assert.match(
    parseError("{% set x = 1 %}"),
    /tag "set" not found \(Liquid's is "\{% assign name = value %\}"\)$/,
  );
  assert.match(
    parseError("{{ vars.port ~ 'x' }}"),
    /\(Liquid joins text with "\| append: x", not "~"\)$/,
  );
});
