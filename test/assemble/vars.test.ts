// vars.yaml, members and detected group names in templates (SPEC 3.5, 3.6).

import assert from "node:assert/strict";
import { test } from "node:test";
import type { BuiltHost } from "../../src/assemble/host-config.ts";
import { redactor } from "../../src/config/secrets.ts";
import type { Tree } from "../helpers/tree.ts";
import { build, buildError, facts } from "./build.ts";

/** The message of the build error of `tree`. */
const buildMessage = (tree: Tree) => buildError(tree).message;

/** A template /out in group "all" with `text`. */
function template(text: string): Tree {
  return { "all/files/out": text, "all/templates.yaml": "- /out\n" };
}

const out = (b: BuiltHost) => b.content.get("/out")?.toString();

const hosts = "- name: h1\n- name: h2\n- name: web2\n- name: db1\n";

test("vars: the host's own group beats groups.yaml groups, which beat all", () => {
  const tree: Tree = {
    "hosts.yaml": hosts,
    "groups.yaml": "web: [h1, web2]\n",
    "all/vars.yaml": "port: 80\nname: all\nlevel: all\n",
    ...template("{{ vars.port }} {{ vars.name }} {{ vars.level }}\n"),
    "web/vars.yaml": "port: 8080\nlevel: web\n",
    "h1/vars.yaml": "level: host\n",
  };
  assert.equal(out(build(tree, "h1")), "8080 all host\n");
  assert.equal(out(build(tree, "web2")), "8080 all web\n");
  assert.equal(out(build(tree, "h2")), "80 all all\n");
});

test("vars: group_order decides between two groups, later is higher", () => {
  const tree: Tree = {
    "config.yaml": "group_order: [web, eu]\n",
    "groups.yaml": "web: [h1]\neu: [h1]\n",
    ...template("{{ vars.dns }}"),
    "web/vars.yaml": "dns: 10.0.0.1\n",
    "eu/vars.yaml": "dns: 10.9.0.1\n",
  };
  assert.equal(out(build(tree)), "10.9.0.1");
});

test("vars: different values from unordered groups are a conflict naming both groups, even unused", () => {
  const message = buildMessage({
    "groups.yaml": "web: [h1]\neu: [h1]\n",
    "web/vars.yaml": "port: 80\ndns: 10.0.0.1\n",
    "eu/vars.yaml": "dns: [10.9.0.1]\n",
  });
  assert.equal(
    message,
    'conflict: groups "eu" and "web" both set variable "dns" and the values differ ' +
      "(eu/vars.yaml:1:1, web/vars.yaml:2:1); order the two groups with group_order in config.yaml",
  );
});

test("vars: the same value from unordered groups is no conflict; the host's own group settles one", () => {
  const same = build({
    "groups.yaml": "web: [h1]\neu: [h1]\n",
    ...template("{{ vars.dns | join: ',' }}"),
    "web/vars.yaml": "dns: [a, {b: 1}]\n",
    "eu/vars.yaml": "dns:\n  - a\n  - b: 1\n",
  });
  assert.equal(out(same), "a,[object Object]");
  const settled = build({
    "groups.yaml": "web: [h1]\neu: [h1]\n",
    ...template("{{ vars.dns }}"),
    "web/vars.yaml": "dns: a\n",
    "eu/vars.yaml": "dns: b\n",
    "h1/vars.yaml": "dns: c\n",
  });
  assert.equal(out(settled), "c");
});

test("vars: lists and mappings in templates, replaced whole (no key-by-key merge)", () => {
  const tree: Tree = {
    "groups.yaml": "web: [h1]\n",
    "all/vars.yaml": "db: {host: localhost, port: 5432}\nupstreams: [a]\n",
    ...template(
      "{% for u in vars.upstreams %}server {{ u }};\n{% endfor %}" +
        "{{ vars.db.host }}{% for kv in vars.db %} {{ kv[0] }}{% endfor %}\n",
    ),
    "web/vars.yaml": "db:\n  host: db1\nupstreams:\n  - web1:8080\n  - web2:8080\n",
  };
  assert.equal(out(build(tree)), "server web1:8080;\nserver web2:8080;\ndb1 host\n");
});

test("vars: an unknown variable is an error with group, file and line", () => {
  const message = buildMessage({
    "all/vars.yaml": "port: 80\n",
    ...template("a\n{{ vars.prot }}\n"),
  });
  assert.match(message, /^template error in group "all" at all\/files\/out:2: /);
  assert.match(message, /vars\.prot/);
});

test("vars: a variable named like an Object property is a variable, and prototypes are not reachable", () => {
  assert.equal(
    out(
      build({
        "all/vars.yaml": "__proto__: x\n",
        ...template("{{ vars.__proto__ }}"),
      }),
    ),
    "x",
  );
  assert.match(
    buildMessage({ "all/vars.yaml": "a: 1\n", ...template("{{ vars.constructor }}") }),
    /vars\.constructor/,
  );
});

test("members: all and every static group, sorted; groups depending on detection are not listed", () => {
  const tree: Tree = {
    "hosts.yaml": hosts,
    "groups.yaml":
      "web: [web2, h1]\nmonitored: [web, db1]\nmonitored_remove: [h1]\ndebian: [detected_debian]\nempty: []\n",
    ...template(
      "{% for h in members.web %}server {{ h }};{% endfor %}\n" +
        "{{ members.all | join: ' ' }}|{{ members.monitored | join: ' ' }}|{{ members.empty.size }}\n",
    ),
  };
  assert.equal(out(build(tree)), "server h1;server web2;\ndb1 h1 h2 web2|db1 web2|0\n");
  assert.match(
    buildMessage({ ...tree, ...template("{{ members.debian }}") }),
    /undefined variable: members\.debian/,
  );
});

test("groups: any detected_<x> is known (false where not detected), other unknown names are errors", () => {
  const tree: Tree = {
    "groups.yaml": "web: [h1]\n",
    ...template(
      "{% if groups.detected_freebsd %}bsd{% else %}not bsd{% endif %} " +
        "{% if groups.detected_debian %}debian{% endif %}",
    ),
  };
  assert.equal(out(build(tree)), "not bsd ");
  assert.equal(
    out(build(tree, "h1", { ...facts, detected: ["detected_debian"] })),
    "not bsd debian",
  );
  assert.match(
    buildMessage({ ...tree, ...template("{% if groups.detectedx %}{% endif %}") }),
    /groups\.detectedx/,
  );
  assert.match(
    buildMessage({ ...tree, ...template("{% if groups.detected_ %}{% endif %}") }),
    /groups\.detected_/,
  );
});

test("vars: a configuration without vars builds as before", () => {
  const b = build({ "all/files/motd": "x" });
  assert.deepEqual(b.secrets, []);
});

test("redactor: every secret and every line of a multi-line secret becomes ********", () => {
  const redact = redactor(["s3cret", "line one\nline two", "s3cret-longer"]);
  assert.equal(
    redact("a s3cret-longer b s3cret c line two d line one\nline two"),
    "a ******** b ******** c ******** d ********",
  );
  assert.equal(redactor([])("s3cret"), "s3cret");
});
