import { test } from "node:test";
import assert from "node:assert/strict";
import { hostLines, hostText, humanReport, logLine, summaryLine } from "../../src/report/human.ts";
import { jsonReport } from "../../src/report/json.ts";
import type { SyncResult } from "../../src/session/result.ts";
import { changed, created, host, info, installed, numbered, service } from "./fixtures.ts";

const plain = { dryRun: false, color: false };

test("a created file", () => {
  assert.deepEqual(hostLines(host({ files: [created("/etc/motd")] }), plain), [
    "[web1] changed 1 file(s):",
    '[web1] "/etc/motd": created, file, root(0) root(0), 0644',
  ]);
});

test("a removed file (absent.yaml): its old type, no diff, in red; JSON new null", () => {
  const f = changed("old\n", "old\n", {
    path: "/etc/old.conf",
    removed: true,
    contentChanged: false,
  });
  const h = host({ files: [f] });
  assert.deepEqual(hostLines(h, { dryRun: true, color: false }), [
    "[web1] changed 1 file(s): (dry-run)",
    '[web1] "/etc/old.conf": removed, file',
  ]);
  assert.ok(hostLines(h, { dryRun: false, color: true })[1]?.includes("\x1b[31mremoved, file"));
  const json = JSON.parse(jsonReport({ dryRun: false, hosts: [h] })) as {
    hosts: { files: { removed: boolean; new: unknown; old: unknown; diff: unknown }[] }[];
  };
  const [entry] = json.hosts[0]?.files ?? [];
  assert.deepEqual([entry?.removed, entry?.new, entry?.diff], [true, null, null]);
  assert.notEqual(entry?.old, null);
});

test("a changed file with its diff, and the dry-run marker", () => {
  const old = numbered(10);
  const f = changed(old, old.replace("5\n", "five\n"), {
    path: "/etc/ssh/sshd_config",
    old: info("file", 0o600, "root", 0),
  });
  assert.deepEqual(hostLines(host({ files: [f] }), { dryRun: true, color: false }), [
    "[web1] changed 1 file(s): (dry-run)",
    '[web1] "/etc/ssh/sshd_config": permission 0600 -> 0644, content',
    "   @@ -2,7 +2,7 @@",
    "    2",
    "    3",
    "    4",
    "   -5",
    "   +five",
    "    6",
    "    7",
    "    8",
  ]);
});

test("type, owner and mode changes; owners without a name; special bits", () => {
  const f = changed(null, "t", {
    path: "/x",
    old: info("fifo", 0o4755, null, 1234),
    new: info("symlink", 0o777, "b", 2),
  });
  assert.deepEqual(hostLines(host({ files: [f] }), plain), [
    "[web1] changed 1 file(s):",
    '[web1] "/x": type fifo -> symlink, user 1234(1234) -> b(2), group 1234(1234) -> b(2), permission 4755 -> 0777, content',
  ]);
});

test("packages, services, commands with output", () => {
  const h = host({
    packages: [installed("htop")],
    services: [service("nginx", "started", "enabled"), service("cron", "enabled")],
    commands: [
      {
        command: "systemctl reload nginx",
        trigger: "/etc/nginx",
        exit_code: 0,
        output: "ok\n\x1b[2Jdone\n",
      },
      { command: "false", trigger: null, exit_code: 1, output: "" },
    ],
  });
  assert.deepEqual(hostLines(h, plain), [
    "[web1] installed 1 package(s):",
    '[web1] "htop"',
    "[web1] modified 2 service(s):",
    '[web1] "nginx": started, enabled',
    '[web1] "cron": enabled',
    "[web1] executed 2 command(s):",
    '[web1] "systemctl reload nginx" (trigger for "/etc/nginx")',
    "   > ok",
    "   > \\x1b[2Jdone",
    '[web1] "false": exit status 1',
  ]);
});

test("removed packages before installed ones; stopped, disabled and masked services", () => {
  const h = host({
    packages: [installed("nginx"), { name: "telnet", action: "removed" }],
    services: [
      service("apache2", "stopped", "disabled"),
      service("debug-shell.service", "stopped", "masked"),
    ],
  });
  assert.deepEqual(hostLines(h, { dryRun: true, color: false }), [
    "[web1] removed 1 package(s): (dry-run)",
    '[web1] "telnet"',
    "[web1] installed 1 package(s): (dry-run)",
    '[web1] "nginx"',
    "[web1] modified 2 service(s): (dry-run)",
    '[web1] "apache2": stopped, disabled',
    '[web1] "debug-shell.service": stopped, masked',
  ]);
});

test("dry-run commands have no output", () => {
  const h = host({ commands: [{ command: "make", trigger: null, exit_code: null, output: null }] });
  assert.deepEqual(hostLines(h, { dryRun: true, color: false }), [
    "[web1] executed 1 command(s): (dry-run)",
    '[web1] "make"',
  ]);
});

test("long command output shows its end and a note", () => {
  const output = Array.from({ length: 250 }, (_, i) => `line ${i}`).join("\n") + "\n";
  const lines = hostLines(
    host({ commands: [{ command: "c", trigger: null, exit_code: 0, output }] }),
    plain,
  );
  assert.equal(lines[2], "   > [... 150 more line(s), see --json]");
  assert.equal(lines[3], "   > line 150");
  assert.equal(lines.at(-1), "   > line 249");
  assert.equal(lines.length, 3 + 100);

  const wide = Array.from({ length: 50 }, () => "y".repeat(1000)).join("\n");
  const wideLines = hostLines(
    host({ commands: [{ command: "c", trigger: null, exit_code: 0, output: wide }] }),
    plain,
  );
  assert.equal(wideLines[2], "   > [... 40 more line(s), see --json]");
  assert.equal(wideLines.length, 3 + 10);

  const one = "z".repeat(50_000);
  const oneLines = hostLines(
    host({ commands: [{ command: "c", trigger: null, exit_code: 0, output: one }] }),
    plain,
  );
  assert.deepEqual(oneLines.slice(2), [
    `   > [... 0 more line(s) and ${50_000 - 10240} character(s), see --json]`,
    `   > ${"z".repeat(10240)}`,
  ]);
});

test("a host that changed nothing prints nothing, unless verbose", () => {
  assert.deepEqual(hostLines(host(), plain), []);
  assert.deepEqual(
    hostLines(host({ groups: ["all", "detected_\x1b[31m"] }), { ...plain, verbose: true }),
    ['[web1] groups: "all", "detected_\\x1b[31m"', "[web1] unchanged"],
  );
});

test("a host that failed before its groups were known prints no empty groups line (issue 19)", () => {
  const failed = host({ ok: false, error: "ssh failed: boom", stage: "connect", groups: [] });
  assert.deepEqual(hostLines(failed, { ...plain, verbose: true }), [
    "[web1] error: ssh failed: boom",
  ]);
});

test("summary counts: failed wins over changed", () => {
  const result: SyncResult = {
    dryRun: false,
    hosts: [
      host({ name: "a", files: [created("/f")] }),
      host({ name: "b" }),
      host({ name: "c", ok: false, error: "boom", files: [created("/f")] }),
      host({ name: "d", commands: [{ command: "x", trigger: "/etc", exit_code: 0, output: "" }] }),
    ],
  };
  assert.equal(
    summaryLine(result),
    "4 host(s): 2 changed, 1 unchanged, 1 failed; commands ran on 1 host(s)",
  );
  assert.equal(
    summaryLine({ ...result, dryRun: true }),
    "4 host(s): 2 changed, 1 unchanged, 1 failed; commands would run on 1 host(s) (dry-run)",
  );
  assert.equal(
    summaryLine({ dryRun: false, hosts: [] }),
    "0 host(s): 0 changed, 0 unchanged, 0 failed",
  );
});

test("a host never started by a rollout in batches: one line with the reason, counted as skipped", () => {
  const skipped = host({
    name: "web3",
    ok: false,
    error: "not started: 1 host(s) failed and --max-fail allows 0",
    skipped: true,
  });
  for (const verbose of [false, true]) {
    assert.deepEqual(hostLines(skipped, { dryRun: false, color: false, verbose }), [
      "[web3] skipped, not started: 1 host(s) failed and --max-fail allows 0",
    ]);
  }
  const failed = host({ name: "web2", ok: false, error: "boom" });
  assert.equal(
    summaryLine({ dryRun: false, hosts: [host(), failed, skipped] }),
    "3 host(s): 0 changed, 1 unchanged, 1 failed, 1 skipped",
  );
});

test("plain commands do not make a host changed; guarded commands that ran and triggers do (SPEC 7.1)", () => {
  const plain = { command: "make", trigger: null, exit_code: 0, output: "" };
  const result: SyncResult = {
    dryRun: false,
    hosts: [
      host({ name: "a", commands: [plain] }),
      host({
        name: "b",
        commands: [
          plain,
          {
            ...plain,
            command: "i",
            creates: "/db",
            skipped: "creates",
            exit_code: null,
            output: null,
          },
        ],
      }),
      host({ name: "c", commands: [{ ...plain, command: "i", creates: "/db" }] }),
      host({
        name: "d",
        commands: [
          {
            ...plain,
            command: "u",
            unless: "true",
            skipped: "unless",
            exit_code: null,
            output: null,
          },
        ],
      }),
      host({ name: "e", commands: [{ ...plain, trigger: "/etc", pending: true }] }),
    ],
  };
  assert.equal(
    summaryLine(result),
    "5 host(s): 2 changed, 3 unchanged, 0 failed; commands ran on 4 host(s)",
  );
  assert.equal(
    summaryLine({ ...result, dryRun: true }),
    "5 host(s): 2 changed, 3 unchanged, 0 failed; commands would run on 4 host(s) (dry-run)",
  );
  const [a, b, c, d, e] = result.hosts;
  assert.deepEqual(hostLines(a, plain_), ["[a] executed 1 command(s):", '[a] "make"']);
  assert.deepEqual(hostLines(b, plain_), ["[b] executed 1 command(s):", '[b] "make"']);
  assert.deepEqual(hostLines(b, { ...plain_, verbose: true }), [
    '[b] groups: "all", "web1"',
    "[b] executed 1 command(s):",
    '[b] "make"',
    "[b] skipped 1 command(s):",
    '[b] "i": "/db" exists',
    "[b] unchanged",
  ]);
  assert.deepEqual(hostLines(c, plain_), ["[c] executed 1 command(s):", '[c] "i" (creates "/db")']);
  assert.deepEqual(hostLines(d, plain_), []);
  assert.deepEqual(hostLines(d, { ...plain_, verbose: true }).slice(1), [
    "[d] skipped 1 command(s):",
    '[d] "u": unless "true" exited 0',
    "[d] unchanged",
  ]);
  assert.deepEqual(hostLines(e, plain_), [
    "[e] executed 1 command(s):",
    '[e] "make" (trigger for "/etc", pending from an earlier sync)',
  ]);
});

const plain_ = { dryRun: false, color: false };

test("the whole report: hosts in order, then the summary", () => {
  const result: SyncResult = {
    dryRun: true,
    hosts: [host({ name: "a", packages: [installed("htop")] }), host({ name: "b" })],
  };
  assert.equal(
    humanReport(result, { color: false }),
    '[a] installed 1 package(s): (dry-run)\n[a] "htop"\n2 host(s): 1 changed, 1 unchanged, 0 failed (dry-run)\n',
  );
});

test("a host's part as the CLI streams it: its lines with newlines; nothing when not a target after all", () => {
  const opts = { dryRun: false, color: false, verbose: true };
  const h = host({ name: "a", packages: [installed("htop")] });
  assert.equal(
    hostText(h, opts),
    '[a] groups: "all", "web1"\n[a] installed 1 package(s):\n[a] "htop"\n',
  );
  assert.equal(hostText({ ...h, notTarget: true }, opts), "");
  assert.equal(hostText(host(), { ...opts, verbose: false }), "");
});

test("an error with ESC never reaches the terminal raw; JSON keeps it", () => {
  const error = 'command "x" failed: \x1b]0;pwned\x07\x1b[2J\x9b\u202e\ud800\r\nsecond line';
  const result: SyncResult = {
    dryRun: false,
    hosts: [
      host({
        ok: false,
        error,
        stage: "sync",
        files: [changed("\x1b[31mold\n", "new\n", { path: "/p\x1b" })],
        commands: [{ command: "c\x1b", trigger: "/t\x1b", exit_code: 1, output: "\x1b[2J\n" }],
      }),
    ],
  };
  const text = humanReport(result, { color: false });
  assert.ok(!text.includes("\x1b"), text);
  assert.ok(!/[\u009b\u202e\r]/.test(text), text);
  assert.ok(
    text.includes(
      '[web1] error: command "x" failed: \\x1b]0;pwned\\x07\\x1b[2J\\x9b\\u202e\\ud800\n   second line',
    ),
    text,
  );
  assert.ok(text.includes("   -\\x1b[31mold"));

  // With colours only our own fixed SGR codes appear.
  const colored = humanReport(result, { color: true });
  const ours = ["\x1b[31m", "\x1b[32m", "\x1b[36m", "\x1b[39m"];
  assert.ok(!ours.reduce((t, code) => t.replaceAll(code, ""), colored).includes("\x1b"), colored);

  const json = jsonReport(result);
  assert.ok(json.includes("\\u001b]0;pwned\\u0007"));
  assert.ok(!json.includes("\x1b"));
  const parsed = JSON.parse(json) as { hosts: { error: string }[] };
  assert.equal(parsed.hosts[0].error, error);
});

test("colours: host name, created, errors, diff lines", () => {
  const h = host({ ok: false, error: "bad", files: [created("/n"), changed("a\n", "b\n")] });
  assert.deepEqual(hostLines(h, { dryRun: false, color: true }), [
    "\x1b[36m[web1]\x1b[39m changed 2 file(s):",
    '\x1b[36m[web1]\x1b[39m "/n": \x1b[32mcreated, file, root(0) root(0), 0644\x1b[39m',
    '\x1b[36m[web1]\x1b[39m "/etc/f": content',
    "   \x1b[36m@@ -1,1 +1,1 @@\x1b[39m",
    "   \x1b[31m-a\x1b[39m",
    "   \x1b[32m+b\x1b[39m",
    "\x1b[36m[web1]\x1b[39m \x1b[31merror: bad\x1b[39m",
  ]);
});

test("live log lines carry the host name and are escaped", () => {
  assert.equal(
    logLine("web1", "verbose", "apt-get \x1b[1minstall\x1b[0m", false),
    "[web1] verbose: apt-get \\x1b[1minstall\\x1b[0m",
  );
  assert.equal(logLine("web1", "info", "a\nb\n", false), "[web1] info: a\n[web1] info: b");
  assert.equal(
    logLine("web1", "info", 'warning: "/home/u" belongs to uid 1000', false),
    '[web1] warning: "/home/u" belongs to uid 1000',
    "a helper's warning is labelled as one",
  );
  assert.equal(
    logLine("web1", "error", "x", true),
    "\x1b[36m[web1]\x1b[39m \x1b[31merror:\x1b[39m x",
  );
});
