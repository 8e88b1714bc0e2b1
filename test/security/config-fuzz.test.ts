// Bad configuration input, property-based (fast-check): random and mutated
// YAML for every configuration file, random modes, paths, group graphs and
// templates. loadConfig must return a Config or throw a ConfigError, and
// buildHost (for configurations that load) must return or throw a HostError
// (a user error; the session labels it with stage "build"): never another exception, never a hang (each property has
// a bounded number of runs; the test's timeout bounds the time). A few cases
// also go through the real CLI: exit status 2, file:line, no stack trace.
//
// Bugs this found (fixed in src/config): ssh_config naming a path that stat()
// cannot look at (too long, through a regular file) threw ENAMETOOLONG /
// ENOTDIR; a symlink loop as config.yaml, a top-level entry or a group's YAML
// file threw ELOOP; a chain of thousands of groups overflowed the call stack
// in findCycles (loadConfig) and memberGroups (buildHost); a template with a
// huge range ({% for i in (1..100000000) %}) ran for half a minute before the
// render limit stopped it (now a memory limit stops it at once).

import assert from "node:assert/strict";
import { existsSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import { buildHost } from "../../src/assemble/host-config.ts";
import { loadConfig, type Config } from "../../src/config/load.ts";
import { ConfigError, HostError } from "../../src/errors.ts";
import { safcm, tempDir, writeTree } from "../helpers/tree.ts";
import { validateYaml, yamlFiles } from "../schemas/validate.ts";

// On tmpfs when there is one: each run writes and removes a configuration tree,
// and this test is about parsing them, not about the disk (rmdir alone took a
// third of its time on this machine's disk).
const { dir: base, cleanup } = tempDir("safcm-fuzz-", {
  parent: existsSync("/dev/shm") ? "/dev/shm" : undefined,
});
after(cleanup);

const RUNS = Number(process.env.SAFCM_FUZZ_RUNS ?? 250);
const SEED =
  process.env.SAFCM_FUZZ_SEED === undefined ? undefined : Number(process.env.SAFCM_FUZZ_SEED);
// includeErrorInReport: a failure shows the error the property threw, not only the counterexample.
const params = { numRuns: RUNS, seed: SEED, includeErrorInReport: true };

/** A valid configuration that uses every file; mutations start from it. */
const VALID: Record<string, string> = {
  "hosts.yaml": [
    "- name: web1",
    "- name: db1",
    "  ssh_user: admin",
    "- name: img",
    "  connection: local",
    "  root: ./img-root",
    "  node: /usr/bin/node",
    "",
  ].join("\n"),
  "groups.yaml": [
    "webservers:",
    "  - web1",
    "monitored:",
    "  - webservers",
    "  - db1",
    "  - detected_linux",
    "monitored_remove:",
    "  - detected_bsd",
    "",
  ].join("\n"),
  "config.yaml": [
    "log_level: info",
    "dry_run: false",
    'detect_groups: ["uname -s"]',
    "group_order: [webservers, monitored]",
    "",
  ].join("\n"),
  "all/permissions.yaml": "/etc/motd: 0644 root root\n/etc/app: 0750\n/etc/app/conf: 640 0 0\n",
  "all/templates.yaml": "- /etc/motd\n",
  "all/triggers.yaml": "/etc/app:\n  - echo reload\n",
  "all/files/etc/motd": "Welcome to {{ host }}{% if groups.webservers %} (web){% endif %}\n",
  "all/files/etc/app/conf": "x=1\n",
  "webservers/files/etc/app/conf":
    "x={{ vars.port }}{% for h in members.webservers %} {{ h }}{% endfor %}\n",
  "webservers/vars.yaml": "port: 8080\nupstreams: [a, b]\ndb: {host: db1, opts: [1, true]}\n",
  "webservers/templates.yaml": "- /etc/app/conf\n",
  "monitored/files/etc/motd": "monitored\n",
  "monitored/permissions.yaml": "/etc/motd: 0600\n",
};
const YAML_FILES = Object.keys(VALID).filter((f) => f.endsWith(".yaml"));

let counter = 0;

/** Writes a configuration directory; `null` removes a file of VALID. */
function writeConfig(files: Record<string, string | null>): string {
  const dir = join(base, `c${counter++}`);
  const tree = Object.entries({ ...VALID, ...files }).filter(
    (e): e is [string, string] => e[1] !== null,
  );
  writeTree(dir, Object.fromEntries(tree));
  return dir;
}

type Outcome = "config-error" | "host-error" | "built";

/** The property: a Config or a ConfigError; for a Config, every host builds or fails with a HostError. */
function outcome(dir: string): Outcome {
  let config: Config;
  try {
    config = loadConfig(dir);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    assert.ok(err.problems.length > 0);
    for (const p of err.problems) {
      assert.equal(typeof p.message, "string");
      assert.match(p.code, /^[a-z]+(-[a-z0-9]+)*$/, "every problem has a stable code");
    }
    return "config-error";
  }
  // What the loader accepts, the JSON Schemas accept too (test/schemas has the other direction).
  for (const [rel, text] of yamlFiles(dir)) {
    const { result, errors } = validateYaml(rel, text);
    assert.ok(
      result === "accepted",
      `the loader accepts ${rel}, its schema does not: ${errors}\n${text}`,
    );
  }
  let result: Outcome = "built";
  for (const host of config.hosts) {
    for (const detected of [[], ["detected_linux", "detected_bsd"]]) {
      try {
        buildHost(config, host, { detected, uid: 0, gid: 0 });
      } catch (err) {
        if (!(err instanceof HostError)) throw err;
        result = "host-error";
      }
    }
  }
  return result;
}

function check(files: Record<string, string | null>): Outcome {
  const dir = writeConfig(files);
  try {
    return outcome(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- generators -------------------------------------------------------------

const unicode = fc.string({ unit: "binary", maxLength: 40 });
const hugeNumber = fc.oneof(
  fc.constant("1e999999"),
  fc.constant("-0x7fffffffffffffffffff"),
  fc.constant("0o7777777777777777777777"),
  fc.constant(".inf"),
  fc.constant(".nan"),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.double().map(String),
);

/** Alias bombs ("billion laughs"): each level refers to the previous one many times. */
const aliasBomb = fc
  .record({ levels: fc.integer({ min: 1, max: 12 }), width: fc.integer({ min: 1, max: 12 }) })
  .map(({ levels, width }) => {
    const lines = ["a0: &a0 [lol, lol]"];
    for (let i = 1; i <= levels; i++) {
      lines.push(`a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(", ")}]`);
    }
    return lines.join("\n") + "\n";
  });

const deepNesting = fc
  .record({ depth: fc.integer({ min: 1, max: 2000 }), kind: fc.integer({ min: 0, max: 3 }) })
  .map(({ depth, kind }) => {
    switch (kind) {
      case 0:
        return "[".repeat(depth) + "]".repeat(depth);
      case 1:
        return "{a: ".repeat(depth) + "x" + "}".repeat(depth);
      case 2:
        return (
          Array.from({ length: Math.min(depth, 500) }, (_, i) => `${" ".repeat(i)}- `).join("\n") +
          "x"
        );
      default:
        return "[".repeat(depth); // unterminated
    }
  });

/** One edit of a text: the kinds of damage a typo, a bad merge or an attacker does. */
const mutation = fc.oneof(
  fc.record({
    op: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 5 }),
  }),
  fc.record({
    op: fc.constant("duplicate" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 5 }),
  }),
  fc.record({ op: fc.constant("swap-lines" as const), at: fc.nat(), other: fc.nat() }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text: unicode }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.constantFrom(
      ": ",
      "- ",
      "&x ",
      "*x",
      "!!binary ",
      "? ",
      "|\n",
      "---\n",
      "%YAML 1.1\n",
      "\t",
      "\0",
      '"',
      "'",
      "#",
      "{",
      "[",
      "<<: *x",
    ),
  }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text: hugeNumber }),
  fc.record({ op: fc.constant("replace" as const), text: fc.oneof(aliasBomb, deepNesting) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, m: Mutation): string {
  switch (m.op) {
    case "delete": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + text.slice(at + m.length);
    }
    case "duplicate": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + text.slice(at, at + m.length) + text.slice(at);
    }
    case "swap-lines": {
      const lines = text.split("\n");
      const i = m.at % lines.length;
      const j = m.other % lines.length;
      [lines[i], lines[j]] = [lines[j] ?? "", lines[i] ?? ""];
      return lines.join("\n");
    }
    case "insert": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case "replace":
      return m.text;
  }
}

const pathArb = fc.oneof(
  fc.constantFrom("/etc/motd", "/etc/app", "/etc/app/conf", "/", "/etc", "/nope"),
  fc.constantFrom(
    "/etc/../etc/motd",
    "//etc/motd",
    "/etc//motd",
    "/etc/./motd",
    "etc/motd",
    "/etc/motd/",
    "/etc/motd\0",
    "/etc/\u202emotd",
    "",
  ),
  fc
    .array(fc.constantFrom("etc", "app", "..", ".", "", "motd", "conf", "\0", "x".repeat(300)), {
      maxLength: 8,
    })
    .map((p) => "/" + p.join("/")),
  fc.integer({ min: 1, max: 20_000 }).map((n) => "/" + "a".repeat(n)),
);
const modeArb = fc.oneof(
  fc.integer({ min: 0, max: 0o17777 }).map((m) => m.toString(8)),
  fc.integer({ min: 0, max: 0o7777 }).map((m) => `"${m.toString(8).padStart(4, "0")}"`),
  fc.constantFrom(
    "0644",
    "1777",
    "7777",
    "8888",
    "-644",
    "0x1ff",
    "644 root",
    "644 root root root",
    "644 -1 0",
    "644 4294967295 0",
    "644 root\troot",
    "0644 r\u00f6ot root",
    "",
    "~",
    "[0644]",
    "{a: 1}",
    "0644 4294967294 4294967294",
  ),
  hugeNumber,
  unicode,
);
const yamlString = (s: string): string => JSON.stringify(s); // a JSON string is a YAML double-quoted scalar

const groupName = fc.constantFrom(
  "g0",
  "g1",
  "g2",
  "g3",
  "g4",
  "web1",
  "db1",
  "img",
  "all",
  "detected_linux",
  "detected_",
  "unknown",
  "G5",
  "g0_remove",
  "-x",
);

const groupGraph = fc
  .array(fc.tuple(groupName, fc.boolean(), fc.array(groupName, { maxLength: 5 })), {
    maxLength: 12,
  })
  .map(
    (groups) =>
      groups
        .map(
          ([name, remove, members]) =>
            `${name}${remove ? "_remove" : ""}:\n${members.map((m) => `  - ${m}`).join("\n")}`,
        )
        .join("\n") + "\n",
  );

const liquidFragment = fc.oneof(
  fc.constantFrom(
    "{{ host }}",
    "{{ vars.port }}",
    "{{ vars.nope }}",
    "{{ vars.db.host }}",
    "{% for u in vars.upstreams %}{{ u }}{% endfor %}",
    "{{ members.all | join: ',' }}",
    "{{ members.nope }}",
    "{% if groups.detected_freebsd %}",
    "{{ groups.webservers }}",
    "{{ groups.nope }}",
    "{{ nope }}",
    "{% if groups.webservers %}",
    "{% if groups.detected_linux %}",
    "{% if groups.typo %}",
    "{% else %}",
    "{% endif %}",
    "{% for i in (1..3) %}",
    "{% for i in (1..100000000) %}",
    "{% for g in groups %}{{ g }}{% endfor %}",
    "{% endfor %}",
    "{% unless host %}",
    "{% endunless %}",
    "{% include 'x' %}",
    "{% render '/etc/passwd' %}",
    "{% assign a = host | append: host %}",
    "{{ a | upcase }}",
    "{{ host | nofilter }}",
    "{{ host | split: '' | join: '-' }}",
    "{% raw %}{{{% endraw %}",
    "{% comment %}",
    "{% endcomment %}",
    "{{",
    "}}",
    "{%",
    "%}",
    "{% case host %}{% when 'web1' %}w{% endcase %}",
    "{{ 'x' | append: 'y' | size }}",
    "{% capture c %}x{% endcapture %}{{ c }}",
    "{% tablerow i in (1..3) %}{{ i }}{% endtablerow %}",
  ),
  unicode,
);
const template = fc.array(liquidFragment, { maxLength: 12 }).map((parts) => parts.join(""));

// --- properties ---------------------------------------------------------------

describe(
  "bad configuration input: a Config or a ConfigError, never anything else",
  { concurrency: false },
  () => {
    test("the valid configuration loads and builds", () => {
      assert.equal(check({}), "built");
    });

    test("mutated YAML files (deletions, duplications, swapped lines, unicode, anchors, huge numbers, deep nesting, alias bombs)", () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...YAML_FILES),
          fc.array(mutation, { minLength: 1, maxLength: 6 }),
          (file, mutations) => {
            check({ [file]: mutations.reduce(mutate, VALID[file] ?? "") });
          },
        ),
        params,
      );
    });

    test("random YAML values as each configuration file", () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...YAML_FILES),
          fc.oneof(
            fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
            unicode,
            fc
              .array(
                fc.dictionary(
                  fc.constantFrom(
                    "name",
                    "ssh_user",
                    "connection",
                    "root",
                    "node",
                    "log_level",
                    "dry_run",
                    "detect_groups",
                    "group_order",
                    "ssh_config",
                    "sudo",
                    "runtime",
                    "ssh_persist",
                    "ignore",
                    "port",
                    "extra",
                  ),
                  fc.oneof(
                    fc.jsonValue({ maxDepth: 2 }),
                    hugeNumber,
                    fc.constantFrom(
                      "local",
                      "ssh",
                      "info",
                      "/",
                      "x".repeat(5000),
                      "a\0b",
                      "../../..",
                    ),
                  ),
                ),
                { maxLength: 5 },
              )
              .map((v) => JSON.stringify(v)),
          ),
          (file, text) => {
            check({ [file]: text });
          },
        ),
        params,
      );
    });

    test("random modes and paths in permissions.yaml, templates.yaml and triggers.yaml", () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(pathArb, modeArb), { maxLength: 6 }),
          fc.array(pathArb, { maxLength: 4 }),
          fc.array(fc.tuple(pathArb, fc.array(unicode, { maxLength: 3 })), { maxLength: 4 }),
          (permissions, templates, triggers) => {
            check({
              "all/permissions.yaml":
                permissions.map(([p, m]) => `${yamlString(p)}: ${m}`).join("\n") + "\n",
              "all/templates.yaml": templates.map((p) => `- ${yamlString(p)}`).join("\n") + "\n",
              "all/triggers.yaml":
                triggers
                  .map(
                    ([p, cmds]) =>
                      `${yamlString(p)}:\n${cmds.map((c) => `  - ${yamlString(c)}`).join("\n")}`,
                  )
                  .join("\n") + "\n",
            });
          },
        ),
        params,
      );
    });

    test("random group graphs (cycles, _remove, unknown members, hosts, detected groups) and group_order", () => {
      fc.assert(
        fc.property(groupGraph, fc.array(groupName, { maxLength: 5 }), (groups, order) => {
          check({
            "groups.yaml": groups,
            "config.yaml": `group_order: [${order.join(", ")}]\n`,
            "monitored/files/etc/motd": null,
            "monitored/permissions.yaml": null,
            "webservers/files/etc/app/conf": null,
            "webservers/templates.yaml": null,
          });
        }),
        params,
      );
    });

    test("random templates", () => {
      fc.assert(
        fc.property(template, template, (motd, conf) => {
          check({ "all/files/etc/motd": motd, "webservers/files/etc/app/conf": conf });
        }),
        params,
      );
    });

    test("found by fuzzing: paths stat() cannot look at, symlink loops, long group chains, huge ranges", () => {
      // An alias bomb of 72,814 values (seed 1626621224): the loader took it, the schema
      // check counted each alias once more and refused it. At the limit both agree.
      const bomb = ["a0: &a0 [lol, lol]"];
      for (let i = 1; i <= 7; i++)
        bomb.push(`a${i}: &a${i} [${`*a${i - 1}, `.repeat(3)}*a${i - 1}]`);
      // (The configuration's template then misses vars.port: a host error, found after the schemas.)
      assert.equal(check({ "webservers/vars.yaml": bomb.join("\n") + "\n" }), "host-error");
      const values = (n: number) =>
        `a: &a [${"x, ".repeat(998)}x]\nb: [${"*a, ".repeat(97)}*a]\nc: [${"x, ".repeat(n - 1)}x]\n`;
      // 1,000 + 98,001 + 999 = MAX_VAR_NODES values.
      assert.equal(check({ "webservers/vars.yaml": values(998) }), "host-error");
      assert.equal(check({ "webservers/vars.yaml": values(999) }), "config-error");
      assert.equal(check({ "config.yaml": `ssh_config: ${"x".repeat(5000)}\n` }), "config-error");
      assert.equal(check({ "config.yaml": "ssh_config: hosts.yaml/x\n" }), "config-error");

      const loops = writeConfig({});
      symlinkSync("loop-a", join(loops, "loop-b"));
      symlinkSync("loop-b", join(loops, "loop-a"));
      symlinkSync("config.yaml", join(loops, "config.yaml.tmp"));
      rmSync(join(loops, "config.yaml"));
      symlinkSync("config.yaml", join(loops, "config.yaml"));
      rmSync(join(loops, "all/triggers.yaml"));
      symlinkSync("triggers.yaml", join(loops, "all/triggers.yaml"));
      assert.throws(
        () => loadConfig(loops),
        (err) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /config\.yaml: cannot read: ELOOP/);
          assert.match(err.message, /all\/triggers\.yaml: triggers\.yaml must be a regular file/);
          return true;
        },
      );

      const chain = Array.from(
        { length: 12_000 },
        (_, i) => `g${i}: [${i === 11_999 ? "web1" : `g${i + 1}`}]`,
      );
      assert.equal(
        check({
          "groups.yaml": chain.join("\n") + "\nwebservers: [g0]\nmonitored: [webservers]\n",
        }),
        "built",
      );
      const cycle = [...chain.slice(0, -1), "g11999: [g0]"];
      assert.equal(
        check({
          "groups.yaml": cycle.join("\n") + "\nwebservers: [g0]\nmonitored: [webservers]\n",
        }),
        "config-error",
      );

      // A huge range fails (a render limit), instead of rendering for hours.
      assert.equal(
        check({ "all/files/etc/motd": "{% for i in (1..100000000) %}{{ host }}{% endfor %}" }),
        "host-error",
      );
    });
  },
);

// --- through the real CLI -------------------------------------------------------

describe(
  "bad configuration through the CLI: exit status 2, file:line, no stack trace",
  { concurrency: true },
  () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      [
        "a YAML syntax error",
        { "hosts.yaml": "- name: web1\n  root: [\n" },
        /^safcm: hosts\.yaml:\d+:\d+: /m,
      ],
      [
        "a cycle of groups",
        { "groups.yaml": "a: [b]\nb: [a]\nwebservers: [web1]\nmonitored: [webservers]\n" },
        /^safcm: groups\.yaml:1:1: cycle in groups: a -> b -> a/m,
      ],
      [
        "a bad mode",
        { "all/permissions.yaml": "/etc/motd: 0999\n" },
        /^safcm: all\/permissions\.yaml:1:12: invalid mode "0999"/m,
      ],
      [
        "a template syntax error",
        { "all/files/etc/motd": "line 1\n{% if host %}\n" },
        /^safcm: all\/files\/etc\/motd:2: template error in group "all"/m,
      ],
      [
        "an alias bomb",
        {
          "hosts.yaml":
            "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
        },
        /^safcm: hosts\.yaml:1:1: hosts\.yaml must be a list/m,
      ],
      ["deep nesting", { "groups.yaml": "[".repeat(20_000) }, /^safcm: groups\.yaml:\d+:\d+: /m],
      [
        "a NUL in a path",
        { "all/triggers.yaml": '"/etc/app\\0": [x]\n' },
        /^safcm: all\/triggers\.yaml:1:1: "\/etc\/app\\0" does not exist|^safcm: all\/triggers\.yaml:1:1: /m,
      ],
    ];
    for (const [name, files, expected] of cases) {
      test(name, async () => {
        const dir = writeConfig(files);
        for (const args of [["check"], ["sync", "--dry-run", "all"], ["sync", "--json", "all"]]) {
          const r = await safcm([args[0] ?? "", "-C", dir, ...args.slice(1)]);
          assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
          assert.match(r.stderr, expected, args.join(" "));
          assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
          assert.doesNotMatch(r.stderr, /internal error/);
          if (args.includes("--json")) assert.equal(r.stdout, "");
        }
      });
    }
  },
);
