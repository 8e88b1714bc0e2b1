import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonReport } from "../../src/report/json.ts";
import type { SyncResult } from "../../src/session/result.ts";
import { changed, created, host, info, installed, service } from "./fixtures.ts";

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
        packages: [installed("htop"), { name: "telnet", action: "removed" }],
        services: [
          service("nginx", "started", "enabled"),
          service("apache2", "stopped", "disabled"),
        ],
        commands: [
          { command: "systemctl reload nginx", trigger: "/etc/nginx", exit_code: 0, output: "..." },
        ],
      }),
      host({ name: "db1", ok: false, error: "connection refused", stage: "connect", groups: [] }),
    ],
  };
  // (a host never started by a rollout in batches: see the next test)
  const root = { type: "file", mode: "0644", user: "root", uid: 0, group: "root", gid: 0 };
  assert.deepEqual(JSON.parse(jsonReport(result)), {
    dry_run: false,
    hosts: [
      {
        name: "web1",
        ok: true,
        error: null,
        skipped: false,
        groups: ["all", "detected_linux", "web1", "webservers"],
        changed: true,
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
        packages: [
          { name: "htop", action: "installed" },
          { name: "telnet", action: "removed" },
        ],
        services: [
          {
            name: "nginx",
            started: true,
            stopped: false,
            enabled: true,
            disabled: false,
            masked: false,
          },
          {
            name: "apache2",
            started: false,
            stopped: true,
            enabled: false,
            disabled: true,
            masked: false,
          },
        ],
        commands: [
          {
            command: "systemctl reload nginx",
            trigger: "/etc/nginx",
            exit_code: 0,
            output: "...",
            skipped: null,
            pending: false,
          },
        ],
      },
      {
        name: "db1",
        ok: false,
        error: "connection refused",
        skipped: false,
        groups: [],
        changed: false,
        runtime: null,
        files: [],
        packages: [],
        services: [],
        commands: [],
      },
    ],
  });
});

test("a host that a rollout in batches never started is skipped, not ok, with the reason", () => {
  const result: SyncResult = {
    dryRun: false,
    hosts: [
      host({ name: "web3", ok: false, error: "not started: 1 host(s) failed", skipped: true }),
    ],
  };
  const parsed = JSON.parse(jsonReport(result)) as { hosts: Record<string, unknown>[] };
  assert.deepEqual(
    [parsed.hosts[0].ok, parsed.hosts[0].skipped, parsed.hosts[0].error],
    [false, true, "not started: 1 host(s) failed"],
  );
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
    {
      command: "make",
      trigger: null,
      exit_code: null,
      output: null,
      skipped: null,
      pending: false,
    },
  ]);
});

test("changed per host (SPEC 7.1): plain commands do not count; skipped and pending are reported", () => {
  const make = { command: "make", trigger: null, exit_code: 0, output: "" };
  const result: SyncResult = {
    dryRun: false,
    hosts: [
      host({ name: "a", commands: [make] }),
      host({
        name: "b",
        commands: [
          make,
          {
            command: "i",
            trigger: null,
            exit_code: null,
            output: null,
            creates: "/db",
            skipped: "creates",
          },
        ],
      }),
      host({ name: "c", commands: [{ ...make, trigger: "/etc", pending: true }] }),
      host({ name: "d", commands: [{ ...make, unless: "false" }] }),
    ],
  };
  const parsed = JSON.parse(jsonReport(result)) as {
    hosts: { changed: boolean; commands: { skipped: string | null; pending: boolean }[] }[];
  };
  assert.deepEqual(
    parsed.hosts.map((h) => h.changed),
    [false, false, true, true],
  );
  assert.deepEqual(
    parsed.hosts[1].commands.map((c) => c.skipped),
    [null, "creates"],
  );
  assert.equal(parsed.hosts[2].commands[0].pending, true);
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

test("jsonReport escapes DEL, C1 controls, line separators and format characters, and parses to the same strings", () => {
  const nasty = "a\x7fb\x9b31mc\u2028d\u202ee\u2066f\u200bg\u{e0001}h";
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

  assert.doesNotMatch(text, /[\x7f-\x9f\p{Cf}\p{Zl}\p{Zp}]/u);
  assert.match(text, /a\\u007fb\\u009b31mc\\u2028d\\u202ee\\u2066f\\u200bg\\udb40\\udc01h/);
  assert.equal((JSON.parse(text) as { hosts: { error: string }[] }).hosts[0].error, nasty);
});
