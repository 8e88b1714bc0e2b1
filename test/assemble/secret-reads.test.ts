// SPEC 5.1: a file whose template read a secret variable, by any path, has its
// diff withheld. The build notes it while rendering (once): a filter turns a
// secret into text that no substring search finds.

import assert from "node:assert/strict";
import { test } from "node:test";
import { buildHost, type BuiltHost } from "../../src/assemble/host-config.ts";
import { loadConfig } from "../../src/config/load.ts";
import { resolveSecrets } from "../../src/config/resolve-secrets.ts";
import { configDir, type Tree } from "../helpers/tree.ts";
import { facts } from "./build.ts";

/** A value that base64, json and url_encode all turn into something else. */
const SECRET = 'pa"ss wörd/+1';
process.env.SAFCM_TEST_SECRET_READS = SECRET;

const VARS = [
  "pw: !env SAFCM_TEST_SECRET_READS",
  "port: 8080",
  "db:",
  "  user: app",
  "  password: !env SAFCM_TEST_SECRET_READS",
  "list: [a, !env SAFCM_TEST_SECRET_READS]",
  "users:",
  "  - name: u1",
  "    pw: !env SAFCM_TEST_SECRET_READS",
  "",
].join("\n");

/** Builds h1 with one template /out per entry of `templates` (/out0, /out1 ...). */
async function buildTemplates(templates: string[]): Promise<BuiltHost> {
  const tree: Tree = {
    "all/vars.yaml": VARS,
    "all/templates.yaml": templates.map((_, i) => `- /out${i}\n`).join(""),
  };
  templates.forEach((t, i) => (tree[`all/files/out${i}`] = t));
  const config = loadConfig(configDir(tree));
  await resolveSecrets(config, config.hosts);
  const host = config.hosts[0];
  assert.ok(host);
  return buildHost(config, host, facts);
}

const reading: [string, string][] = [
  ["base64_encode", "{{ vars.pw | base64_encode }}"],
  ["json (a quote in the value)", "{{ vars.pw | json }}"],
  ["url_encode", "{{ vars.pw | url_encode }}"],
  ["assigned to another name", "{% assign x = vars.pw %}{{ x | upcase }}"],
  ["captured", "{% capture c %}{{ vars.pw }}{% endcapture %}{{ c | base64_encode }}"],
  ["inside a loop over a list", "{% for i in vars.list %}{{ i | base64_encode }}{% endfor %}"],
  ["an element of a list", "{{ vars.list[1] | url_encode }}"],
  ["a list filter", "{{ vars.list | last | base64_encode }}"],
  ["a list joined", "{{ vars.list | join: ',' | base64_encode }}"],
  ["a mapping's key", "{{ vars.db.password | base64_encode }}"],
  ["a loop over a mapping", "{% for p in vars.db %}{{ p[1] | base64_encode }}{% endfor %}"],
  ["map over a list of mappings", "{{ vars.users | map: 'pw' | join | base64_encode }}"],
  ["a whole mapping as json", "{{ vars.db | json | base64_encode }}"],
  ["all variables as json", "{{ vars | json | base64_encode }}"],
  ["only compared", "{% if vars.pw == 'x' %}same{% else %}other{% endif %}"],
  ["only its size", "{{ vars.pw | size }}"],
];

test("a template that reads a secret through any filter, name or loop is noted", async () => {
  const built = await buildTemplates(reading.map(([, t]) => t));
  reading.forEach(([what], i) => {
    const path = `/out${i}`;
    assert.ok(built.secretTemplates.has(path), `${what}: not noted`);
  });
  // The renderings are real, and the content holds no plain secret: the substring
  // check alone would have shown their diffs.
  assert.equal(built.content.get("/out0")?.toString(), Buffer.from(SECRET).toString("base64"));
  assert.equal(built.content.get("/out1")?.toString(), JSON.stringify(SECRET));
  assert.ok(!built.content.get("/out2")?.toString().includes(SECRET));
});

test("a template that reads no secret is not noted, even beside one that does", async () => {
  const built = await buildTemplates([
    "{{ vars.pw | base64_encode }}",
    "port={{ vars.port }} user={{ vars.db.user }} first={{ vars.list[0] }} n={{ vars.list.size }}",
    "{{ host }} {% for u in vars.users %}{{ u.name }}{% endfor %}",
    "{{ vars.pw | base64_encode }}",
  ]);
  assert.deepEqual([...built.secretTemplates].sort(), ["/out0", "/out3"]);
  assert.equal(built.content.get("/out1")?.toString(), "port=8080 user=app first=a n=2");
  assert.equal(built.content.get("/out2")?.toString(), "h1 u1");
});

test("without secrets nothing is noted and the variables are plain values", () => {
  const config = loadConfig(
    configDir({
      "all/vars.yaml": "a: [1, 2]\nb: {c: d}\n",
      "all/files/out": "{{ vars.a | join: '-' }} {{ vars.b | json }}",
      "all/templates.yaml": "- /out\n",
    }),
  );
  const host = config.hosts[0];
  assert.ok(host);
  const built = buildHost(config, host, facts);
  assert.equal(built.secretTemplates.size, 0);
  assert.equal(built.content.get("/out")?.toString(), '1-2 {"c":"d"}');
});
