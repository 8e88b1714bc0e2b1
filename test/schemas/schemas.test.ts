// The JSON Schemas of schemas/ (SPEC 4) and safcm's own validation must not
// drift: over the whole table of configuration mistakes, every document the
// loader rejects for a shape reason the schema rejects too, and every other
// document of the table passes its schema; valid configurations pass both;
// the real CLI's --json report matches report.schema.json. (The fuzzed
// configurations of test/security/config-fuzz.test.ts check that every
// configuration the loader accepts passes the schemas too.)

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultGlobal } from "../../src/config/global.ts";
import { loadConfig } from "../../src/config/load.ts";
import { PACKAGE_NAME, UNIT_NAME } from "../../src/config/names.ts";
import { VAR_NAME } from "../../src/config/vars.ts";
import type { JsonReport } from "../../src/report/json-types.ts";
import { cases } from "../config/cases.ts";
import { REPO, configDir, safcm, tempDir, writeTree, type Tree } from "../helpers/tree.ts";
import { SCHEMA_NAMES, validateYaml, validator, yamlFiles } from "./validate.ts";

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

test("every schema named by SPEC 4 is shipped and compiles in strict mode", () => {
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { files: string[] };
  assert.ok(pkg.files.includes("schemas/"));
  for (const name of SCHEMA_NAMES) assert.equal(typeof validator(name), "function");
});

describe("schemas against the table of configuration mistakes", () => {
  for (const c of cases) {
    test(c.name, () => {
      const files = yamlFiles(configDir(c.tree));
      const results = [...files].map(([rel, text]) => ({ rel, ...validateYaml(rel, text) }));
      const shape = c.file.endsWith(".yaml") && c.notShape === undefined;
      // A wrong type or an unknown key is always a mistake of shape that a schema can see.
      if (c.code === "wrong-type" || c.code === "unknown-key") assert.ok(shape, c.code);
      if (shape) {
        assert.ok(
          results.some((r) => r.rel === c.file && r.result === "rejected"),
          `the schema accepts ${c.file}, which the loader rejects: ${JSON.stringify(results)}`,
        );
      } else {
        const rejected = results.filter((r) => r.result === "rejected");
        assert.deepEqual(rejected, [], `not a shape mistake (${c.notShape ?? c.file})`);
      }
    });
  }
});

/** Every key of every file, valid. */
const everything: Tree = {
  "config.yaml": [
    "# yaml-language-server: $schema=../schemas/config.schema.json",
    "dry_run: false",
    "log_level: verbose",
    "detect_groups: ['. /etc/os-release && echo $ID']",
    "detect_vars: ['echo php_version=8.2']",
    "group_order: [web, detected_debian]",
    "ssh_config: ssh_config",
    "ssh_user: admin",
    "sudo: true",
    "runtime: auto",
    "ssh_persist: 120",
    "ignore: ['*~', '*.orig']",
    "",
  ].join("\n"),
  ssh_config: "Host *\n",
  "hosts.yaml": [
    "- name: web1.example.org",
    "  ssh_user: deploy",
    "  sudo: false",
    "  runtime: bundled",
    "- name: img",
    "  connection: local",
    "  root: /var/lib/machines/img",
    "  node: /usr/local/bin/node",
    "",
  ].join("\n"),
  "groups.yaml": "web:\n  - web1.example.org\n  - detected_debian\nweb_remove:\n  - img\n",
  "web/files/etc/motd": "{{ vars.motd }}\n",
  "web/files/etc/nginx/nginx.conf": "x\n",
  "web/permissions.yaml": "/etc/motd: 0644 root root\n/etc/nginx: 750\n/etc: '0755'\n",
  "web/templates.yaml": "- /etc/motd\n",
  "web/triggers.yaml": "/etc/nginx:\n  - systemctl reload nginx\n",
  "web/packages.yaml": "- nginx\n- libc6:amd64\n",
  "web/services.yaml": "- nginx.service\n- getty@tty1\n",
  "web/commands.yaml":
    "- echo done\n- run: init-db\n  creates: /var/lib/db\n- run: x\n  unless: test -e /x\n- run: y\n",
  "web/validate.yaml": "/etc/nginx/nginx.conf: nginx -t -c %s\n",
  "web/absent.yaml": "- /etc/nginx/sites-enabled/default\n- /usr/local/bin/old-tool\n",
  "web/vars.yaml": [
    "motd: hello",
    "port: 8080",
    "ratio: 0.5",
    "enabled: true",
    "upstreams: [a, b]",
    "db: {host: db1, port: 5432, opts: [x]}",
    "token: !env HOME",
    "api: !command echo x",
    "",
  ].join("\n"),
};

test("valid configurations pass the loader and every schema", () => {
  for (const dir of [configDir(everything), join(REPO, "examples/quickstart")]) {
    loadConfig(dir);
    const files = yamlFiles(dir);
    assert.ok(files.size > 0);
    for (const [rel, text] of files) {
      assert.deepEqual(validateYaml(rel, text), { result: "accepted" }, `${dir}: ${rel}`);
    }
  }
});

test("the real --json report matches report.schema.json", async () => {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const root = join(dir, "root");
  mkdirSync(root, { mode: 0o755 });
  writeTree(join(dir, "conf"), {
    "hosts.yaml": `- name: h1\n  connection: local\n  root: ${root}\n- name: bad\n  connection: local\n  root: ${join(dir, "missing")}\n`,
    "all/files/etc/motd": "hello\n",
    "all/files/etc/link": { symlink: "motd" },
    "all/commands.yaml": "- echo done\n",
  });
  const check = validator("report");
  for (const args of [["-n"], []]) {
    const r = await safcm(["sync", "-C", join(dir, "conf"), "--json", ...args, "all"]);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as JsonReport;
    assert.ok(check(report), JSON.stringify(check.errors));
    assert.deepEqual(
      report.hosts.map((h) => [h.name, h.ok]),
      [
        ["h1", true],
        ["bad", false],
      ],
    );
    assert.ok(report.hosts[0]?.files.some((f) => f.path === "/etc/motd"));
  }
  // A rollout in batches: "bad" (first in sorted order) fails, h1 is never started.
  const r = await safcm(["sync", "-C", join(dir, "conf"), "--json", "--batch", "1", "all"]);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as JsonReport;
  assert.ok(check(report), JSON.stringify(check.errors));
  assert.deepEqual(
    report.hosts.map((h) => [h.name, h.ok, h.skipped]),
    [
      ["bad", false, false],
      ["h1", false, true],
    ],
  );
});

test("the schemas use the loader's own grammars and defaults", () => {
  const schema = (name: string) =>
    JSON.parse(readFileSync(join(REPO, "schemas", `${name}.schema.json`), "utf8")) as {
      definitions: { name: { pattern: string } };
      propertyNames: { pattern: string };
      properties: Record<string, { default?: unknown }>;
    };
  assert.equal(schema("packages").definitions.name.pattern, PACKAGE_NAME.source);
  assert.equal(schema("services").definitions.name.pattern, UNIT_NAME.source);
  assert.equal(schema("vars").propertyNames.pattern, VAR_NAME.source);
  const defaults = defaultGlobal();
  const config = schema("config").properties;
  for (const key of [
    "dry_run",
    "log_level",
    "detect_groups",
    "detect_vars",
    "group_order",
    "ssh_persist",
    "ignore",
  ]) {
    assert.deepEqual(config[key]?.default, defaults[key as keyof typeof defaults], key);
  }
});
