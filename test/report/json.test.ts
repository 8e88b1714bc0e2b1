import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonReport } from "../../src/report/json.ts";
import type { SyncResult } from "../../src/session/result.ts";
import { changed, created, host, info } from "./fixtures.ts";

test("the shape of SPEC 7.2", () => {
  const result: SyncResult = {
    dryRun: false,
    hosts: [
      host({
        groups: ["all", "detected_linux", "web1", "webservers"],
        runtime: { kind: "bundled", version: "24.22.3", uploaded: true },
        files: [
          created("/etc/motd"),
          changed("a\n", "b\n", { path: "/etc/x", old: info("file", 0o4750, null, 1000) }),
        ],
        packages: ["htop"],
        services: [{ name: "nginx", started: true, enabled: true }],
        commands: [
          { command: "systemctl reload nginx", trigger: "/etc/nginx", exit_code: 0, output: "..." },
        ],
      }),
      host({ name: "db1", ok: false, error: "connection refused", stage: "connect", groups: [] }),
    ],
  };
  const root = { type: "file", mode: "0644", user: "root", uid: 0, group: "root", gid: 0 };
  assert.deepEqual(JSON.parse(jsonReport(result)), {
    dry_run: false,
    hosts: [
      {
        name: "web1",
        ok: true,
        error: null,
        groups: ["all", "detected_linux", "web1", "webservers"],
        runtime: { kind: "bundled", version: "24.22.3", uploaded: true },
        files: [
          {
            path: "/etc/motd",
            created: true,
            removed: false,
            old: null,
            new: root,
            diff: null,
            diff_hidden: null,
            acl_removed: false,
          },
          {
            path: "/etc/x",
            created: false,
            removed: false,
            old: { type: "file", mode: "4750", user: null, uid: 1000, group: null, gid: 1000 },
            new: root,
            diff: "@@ -1,1 +1,1 @@\n-a\n+b",
            diff_hidden: null,
            acl_removed: false,
          },
        ],
        packages: ["htop"],
        services: [{ name: "nginx", started: true, enabled: true }],
        commands: [
          { command: "systemctl reload nginx", trigger: "/etc/nginx", exit_code: 0, output: "..." },
        ],
      },
      {
        name: "db1",
        ok: false,
        error: "connection refused",
        groups: [],
        runtime: null,
        files: [],
        packages: [],
        services: [],
        commands: [],
      },
    ],
  });
});

test("dry-run commands have null exit_code and output", () => {
  const result: SyncResult = {
    dryRun: true,
    hosts: [
      host({ commands: [{ command: "make", trigger: null, exit_code: null, output: null }] }),
    ],
  };
  const parsed = JSON.parse(jsonReport(result)) as {
    dry_run: boolean;
    hosts: { commands: unknown[] }[];
  };
  assert.equal(parsed.dry_run, true);
  assert.deepEqual(parsed.hosts[0].commands, [
    { command: "make", trigger: null, exit_code: null, output: null },
  ]);
});

test("strings stay raw; lone surrogates and controls give valid, ASCII-safe JSON", () => {
  const output = "a\x1b[2J\ud800b\udfff\u202e\x9b\r\n" + "x".repeat(200_000);
  const result: SyncResult = {
    dryRun: false,
    hosts: [host({ commands: [{ command: "c", trigger: null, exit_code: 0, output }] })],
  };
  const json = jsonReport(result);
  assert.ok(json.includes("\\ud800") && json.includes("\\udfff") && json.includes("\\u001b"));
  // The text is well-formed: it survives a UTF-8 round trip unchanged.
  assert.equal(Buffer.from(json, "utf8").toString("utf8"), json);
  assert.ok(json.endsWith("}\n"));
  const parsed = JSON.parse(json) as { hosts: { commands: { output: string }[] }[] };
  assert.equal(parsed.hosts[0].commands[0].output, output); // everything kept, not shortened
});

test("jsonReport escapes DEL, C1 controls, line separators and bidi overrides, and parses to the same strings", () => {
  const nasty = "a\x7fb\x9b31mc\u2028d\u202ee\u2066f";
  const text = jsonReport({
    dryRun: false,
    hosts: [
      {
        name: "h",
        ok: false,
        error: nasty,
        stage: "sync",
        groups: [],
        files: [],
        packages: [],
        services: [],
        commands: [],
        skipped: false,
      },
    ],
  });

  assert.doesNotMatch(text, /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  assert.match(text, /a\\u007fb\\u009b31mc\\u2028d\\u202ee\\u2066f/);
  assert.equal((JSON.parse(text) as { hosts: { error: string }[] }).hosts[0].error, nasty);
});
