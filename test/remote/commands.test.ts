import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  MAX_OUTPUT,
  type CommandEntry,
  type FileChange,
  type TriggerEntry,
} from "../../src/protocol/messages.ts";
import {
  TRUNCATED_NOTE,
  covers,
  planCommands,
  runCommands,
  runShell,
} from "../../src/remote/commands.ts";
import { PendingJournal } from "../../src/remote/pending.ts";
import { removeDir, tempDir } from "./util.ts";

function changed(...paths: string[]): FileChange[] {
  const info = { type: "file" as const, mode: 0o644, user: "root", uid: 0, group: "root", gid: 0 };
  return paths.map((path) => ({
    path,
    created: false,
    old: info,
    new: info,
    content_changed: false,
  }));
}

/** Plain commands of commands.yaml. */
function run(...commands: string[]): CommandEntry[] {
  return commands.map((c) => ({ run: c }));
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = realpathSync(tempDir());
  try {
    await fn(dir);
  } finally {
    removeDir(dir);
  }
}

describe("triggers", () => {
  test("a trigger covers its path and everything below, nothing beside it", () => {
    assert.ok(covers("/etc/nginx", "/etc/nginx"));
    assert.ok(covers("/etc/nginx", "/etc/nginx/sites/default"));
    assert.ok(!covers("/etc/nginx", "/etc/nginx2"));
    assert.ok(!covers("/etc/nginx", "/etc"));
    assert.ok(covers("/", "/anything"));
  });

  test("fired triggers in sorted path order, each command once, then commands", () => {
    const triggers: TriggerEntry[] = [
      { path: "/etc/nginx", commands: ["reload nginx", "log"] },
      { path: "/etc", commands: ["log", "etc changed"] },
      { path: "/var", commands: ["not fired"] },
    ];
    assert.deepEqual(
      planCommands(triggers, run("final", "final"), changed("/etc/nginx/nginx.conf")),
      [
        { command: "log", trigger: "/etc" },
        { command: "etc changed", trigger: "/etc" },
        { command: "reload nginx", trigger: "/etc/nginx" },
        { command: "final", trigger: null },
        { command: "final", trigger: null },
      ],
    );
  });

  test("no change fires nothing", () => {
    assert.deepEqual(planCommands([{ path: "/", commands: ["x"] }], run("c"), []), [
      { command: "c", trigger: null },
    ]);
  });

  test("runs each trigger command once with SAFCM_TRIGGER, in a root with SAFCM_ROOT as cwd", () =>
    withDir(async (root) => {
      const result = await runCommands({
        root,
        apply: true,
        triggers: [
          { path: "/etc", commands: ['echo "$SAFCM_TRIGGER $SAFCM_ROOT $(pwd)" >> log'] },
          {
            path: "/etc/app",
            commands: ['echo "$SAFCM_TRIGGER $SAFCM_ROOT $(pwd)" >> log', "echo app >> log"],
          },
        ],
        commands: run('echo "command ${SAFCM_TRIGGER-unset}" >> log'),
        changes: changed("/etc/app/conf", "/etc/app/other"),
      });
      assert.equal(result.error, null);
      assert.equal(
        readFileSync(join(root, "log"), "utf8"),
        `/etc ${root} ${root}\napp\ncommand unset\n`,
      );
      assert.deepEqual(
        result.results.map((r) => [r.trigger, r.exit_code]),
        [
          ["/etc", 0],
          ["/etc/app", 0],
          [null, 0],
        ],
      );
    }));

  test("dry-run lists but runs nothing", () =>
    withDir(async (dir) => {
      const marker = join(dir, "ran");
      const result = await runCommands({
        root: "/",
        apply: false,
        triggers: [{ path: "/etc", commands: [`touch ${marker}`] }],
        commands: run(`touch ${marker}`),
        changes: changed("/etc/motd"),
      });
      assert.equal(result.error, null);
      assert.deepEqual(result.results, [
        { command: `touch ${marker}`, trigger: "/etc", exit_code: null, output: null },
        { command: `touch ${marker}`, trigger: null, exit_code: null, output: null },
      ]);
      assert.equal(existsSync(marker), false);
    }));
});

describe("commands", () => {
  test("run in order; a failure stops and its output is captured", () =>
    withDir(async (dir) => {
      const marker = join(dir, "never");
      const result = await runCommands({
        root: "/",
        apply: true,
        triggers: [],
        commands: run("echo first", "echo out; echo err >&2; exit 3", `touch ${marker}`),
        changes: [],
      });
      assert.equal(
        result.error,
        'command "echo out; echo err >&2; exit 3" failed with exit status 3',
      );
      assert.deepEqual(result.results, [
        { command: "echo first", trigger: null, exit_code: 0, output: "first\n" },
        {
          command: "echo out; echo err >&2; exit 3",
          trigger: null,
          exit_code: 3,
          output: "out\nerr\n",
        },
      ]);
      assert.equal(existsSync(marker), false);
    }));

  test("a failing trigger names its path", async () => {
    const result = await runCommands({
      root: "/",
      apply: true,
      triggers: [{ path: "/etc", commands: ["false"] }],
      commands: run("true"),
      changes: changed("/etc"),
    });
    assert.equal(result.error, 'command "false" (trigger for "/etc") failed with exit status 1');
    assert.equal(result.results.length, 1);
  });

  test("standard output and error are combined in the order written", async () => {
    const run = await runShell("echo 1; echo 2 >&2; echo 3; echo 4 >&2", { combined: true });
    assert.equal(run.exitCode, 0);
    assert.equal(run.stdout + run.stderr, "1\n2\n3\n4\n");
  });

  test("the command is passed as data, not pasted into a script", async () => {
    const run = await runShell('printf "%s|" "$0" "$#"; echo \'"$1"\'', { combined: true });
    assert.equal(run.stdout, '/bin/sh|0|"$1"\n');
  });

  test("standard input is closed", async () => {
    const run = await runShell("cat; echo done", { combined: true });
    assert.equal(run.stdout, "done\n");
  });

  test("output is capped with a note, the command still completes", async () => {
    const run = await runShell(
      `head -c ${MAX_OUTPUT + 5000} /dev/zero | tr '\\0' a; echo; exit 7`,
      {
        combined: true,
      },
    );
    assert.equal(run.exitCode, 7);
    assert.equal(run.stdout.length, MAX_OUTPUT + TRUNCATED_NOTE.length);
    assert.ok(run.stdout.endsWith(TRUNCATED_NOTE));
  });

  test("separate streams for detect_groups; a signal is 128 + its number", async () => {
    const run = await runShell("echo out; echo err >&2", { combined: false });
    assert.deepEqual([run.stdout, run.stderr], ["out\n", "err\n"]);
    const killed = await runShell("kill -TERM $$", { combined: false });
    assert.equal(killed.exitCode, 128 + 15);
  });
});

describe("guards (SPEC 3.5 commands.yaml mappings)", () => {
  test("creates: skipped when the path exists below root, never through a symbolic link on the way", () =>
    withDir(async (root) => {
      mkdirSync(join(root, "var/lib/app"), { recursive: true });
      writeFileSync(join(root, "var/lib/app/db"), "");
      symlinkSync("/nonexistent", join(root, "var/lib/app/dangling"));
      const input = (creates: string, apply = true) => ({
        root,
        apply,
        triggers: [],
        commands: [{ run: `echo ${creates} >> log`, creates }],
        changes: [],
      });
      const skipped = await runCommands(input("/var/lib/app/db"));
      assert.deepEqual(skipped, {
        error: null,
        results: [
          {
            command: "echo /var/lib/app/db >> log",
            trigger: null,
            exit_code: null,
            output: null,
            creates: "/var/lib/app/db",
            skipped: "creates",
          },
        ],
      });
      assert.equal(
        (await runCommands(input("/var/lib/app/dangling"))).results[0].skipped,
        "creates",
      );
      assert.equal((await runCommands(input("/"))).results[0].skipped, "creates");
      const ran = await runCommands(input("/var/lib/app/missing"));
      assert.deepEqual(
        ran.results.map((r) => [r.exit_code, r.skipped]),
        [[0, undefined]],
      );
      assert.equal(
        (await runCommands(input("/var/lib/app/db/x"))).results[0].exit_code,
        0,
        "a file on the way: missing",
      );
      assert.equal(
        readFileSync(join(root, "log"), "utf8"),
        "/var/lib/app/missing\n/var/lib/app/db/x\n",
      );

      // Dry-run looks too, and runs nothing.
      const dry = await runCommands(input("/var/lib/app/db", false));
      assert.equal(dry.results[0].skipped, "creates");
      const wouldRun = await runCommands(input("/var/lib/app/other", false));
      assert.deepEqual(
        wouldRun.results.map((r) => [r.exit_code, r.skipped]),
        [[null, undefined]],
      );

      // /etc/x -> elsewhere: whether "x/db" exists there is not safcm's to look at.
      const outside = realpathSync(tempDir());
      try {
        writeFileSync(join(outside, "db"), "");
        mkdirSync(join(root, "etc"));
        symlinkSync(outside, join(root, "etc/x"));
        const refused = await runCommands(input("/etc/x/db"));
        assert.equal(
          refused.error,
          'command "echo /etc/x/db >> log": creates "/etc/x/db": symlink not permitted in path',
        );
        assert.deepEqual(refused.results, []);
      } finally {
        removeDir(outside);
      }
    }));

  test("unless: skipped when it exits 0; runs in the root like the command; not run in dry-run", () =>
    withDir(async (root) => {
      const commands: CommandEntry[] = [
        { run: "echo skipped >> log", unless: 'test "$PWD" = "$SAFCM_ROOT"' },
        { run: "echo ran >> log", unless: "echo unless ran >> log; exit 3" },
      ];
      const real = await runCommands({ root, apply: true, triggers: [], commands, changes: [] });
      assert.equal(real.error, null);
      assert.deepEqual(
        real.results.map((r) => [r.command, r.unless, r.skipped, r.exit_code]),
        [
          ["echo skipped >> log", 'test "$PWD" = "$SAFCM_ROOT"', "unless", null],
          ["echo ran >> log", "echo unless ran >> log; exit 3", undefined, 0],
        ],
      );
      assert.equal(readFileSync(join(root, "log"), "utf8"), "unless ran\nran\n");
      const dry = await runCommands({ root, apply: false, triggers: [], commands, changes: [] });
      assert.deepEqual(
        dry.results.map((r) => [r.skipped, r.exit_code]),
        [
          [undefined, null],
          [undefined, null],
        ],
      );
      assert.equal(readFileSync(join(root, "log"), "utf8"), "unless ran\nran\n", "nothing ran");
    }));
});

describe("pending triggers (SPEC 3.5)", () => {
  test("a pending trigger runs where fired ones run, marked; once per command; not configured: dropped", () =>
    withDir(async (root) => {
      const journal = PendingJournal.memory(root);
      const trig: TriggerEntry[] = [
        { path: "/etc/a", commands: ["echo a >> log", "echo shared >> log"] },
        { path: "/etc/b", commands: ["echo shared >> log", "echo b >> log"] },
      ];
      assert.equal(journal.record(trig, ["/etc/b/x"]), null);
      assert.equal(
        journal.record([{ path: "/etc/gone", commands: ["echo gone"] }], ["/etc/gone"]),
        null,
      );
      assert.deepEqual(planCommands(trig, run("last"), changed("/etc/a/conf"), journal.list()), [
        { command: "echo a >> log", trigger: "/etc/a" },
        { command: "echo shared >> log", trigger: "/etc/a" },
        { command: "echo b >> log", trigger: "/etc/b", pending: true },
        { command: "last", trigger: null },
      ]);
      const lines: string[] = [];
      const dry = await runCommands({
        root,
        apply: false,
        triggers: trig,
        commands: [],
        changes: [],
        pending: journal,
        log: (level, text) => lines.push(`${level}: ${text}`),
      });
      assert.deepEqual(
        dry.results.map((r) => [r.command, r.pending, r.exit_code]),
        [
          ["echo shared >> log", true, null],
          ["echo b >> log", true, null],
        ],
      );
      assert.equal(journal.list().length, 3, "a dry-run clears nothing");
      assert.deepEqual(
        lines.filter((l) => l.startsWith("info")),
        [
          'info: pending trigger "echo gone" for "/etc/gone" from an earlier sync is no longer configured; a sync drops it',
        ],
      );

      lines.length = 0;
      const real = await runCommands({
        root,
        apply: true,
        triggers: trig,
        commands: [],
        changes: [],
        pending: journal,
        log: (level, text) => lines.push(`${level}: ${text}`),
      });
      assert.equal(real.error, null);
      assert.equal(readFileSync(join(root, "log"), "utf8"), "shared\nb\n");
      assert.deepEqual(journal.list(), [], "ran, or dropped");
      assert.ok(
        lines.includes(
          'info: pending trigger "echo gone" for "/etc/gone" from an earlier sync is no longer configured; dropped',
        ),
      );
    }));

  test("a failing trigger stays pending, those that succeeded leave", () =>
    withDir(async (root) => {
      const journal = PendingJournal.memory(root);
      const trig: TriggerEntry[] = [
        { path: "/a", commands: ["true"] },
        { path: "/b", commands: ["exit 1"] },
        { path: "/c", commands: ["echo c"] },
      ];
      assert.equal(journal.record(trig, ["/a", "/b", "/c"]), null);
      const result = await runCommands({
        root,
        apply: true,
        triggers: trig,
        commands: [],
        changes: changed("/a", "/b", "/c"),
        pending: journal,
      });
      assert.equal(result.error, 'command "exit 1" (trigger for "/b") failed with exit status 1');
      assert.deepEqual(journal.list(), [
        { path: "/b", command: "exit 1" },
        { path: "/c", command: "echo c" },
      ]);
    }));
});
