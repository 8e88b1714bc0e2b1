import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { SyncRequest } from "../../src/protocol/messages.ts";
import { journalName, type StateDir } from "../../src/remote/pending.ts";
import { handleSync } from "../../src/remote/sync.ts";
import { removeDir, request, tempDir, type Spec } from "./util.ts";

function syncRequest(
  root: string,
  specs: Spec[],
  dry_run: boolean,
): { req: SyncRequest; data: Buffer } {
  const { files, data } = request(specs);
  return {
    req: {
      type: "sync_request",
      log_level: "debug2",
      dry_run,
      root,
      files,
      packages: [],
      services: [],
      triggers: [
        { path: "/etc/nginx", commands: ['echo "reload $SAFCM_TRIGGER" >> log'] },
        { path: "/", commands: ['echo "reload $SAFCM_TRIGGER" >> log'] },
        { path: "/srv", commands: ["echo srv >> log"] },
      ],
      commands: [{ run: "echo always >> log" }],
    },
    data,
  };
}

test("triggers fire once on a change, not on a no-op, never in dry-run", async () => {
  const root = realpathSync(tempDir());
  chmodSync(root, 0o755);
  try {
    const specs: Spec[] = [
      { path: "/" },
      { path: "/etc" },
      { path: "/etc/nginx" },
      { path: "/etc/nginx/conf", content: "a" },
    ];
    const log = () => readFileSync(join(root, "log"), "utf8");

    const first = syncRequest(root, specs, false);
    const r1 = await handleSync(first.req, first.data);
    assert.equal(r1.response.error, null);
    assert.equal(
      log(),
      "reload /\nalways\n",
      "the same command runs once, for the first trigger in path order",
    );
    assert.deepEqual(
      r1.response.commands.map((c) => c.trigger),
      ["/", null],
    );

    const again = syncRequest(root, specs, false);
    const r2 = await handleSync(again.req, again.data);
    assert.deepEqual(r2.response.files, []);
    assert.equal(
      log(),
      "reload /\nalways\nalways\n",
      "no trigger on a no-op, commands.yaml every time",
    );

    const changed = specs.map((s) => (s.path === "/etc/nginx/conf" ? { ...s, mode: 0o600 } : s));
    const dry = syncRequest(root, changed, true);
    const r3 = await handleSync(dry.req, dry.data);
    assert.deepEqual(
      r3.response.commands.map((c) => [c.trigger, c.exit_code]),
      [
        ["/", null],
        [null, null],
      ],
    );
    assert.equal(log(), "reload /\nalways\nalways\n", "dry-run runs nothing");

    const real = syncRequest(root, changed, false);
    await handleSync(real.req, real.data);
    assert.equal(
      log(),
      "reload /\nalways\nalways\nreload /\nalways\n",
      "a mode-only change fires the trigger",
    );
  } finally {
    removeDir(root);
  }
});

test("a file error found before any change stops everything: nothing changed, no triggers or commands", async () => {
  const root = realpathSync(tempDir());
  const outside = tempDir();
  chmodSync(root, 0o755);
  try {
    symlinkSync(outside, join(root, "evil"));
    const { req, data } = syncRequest(
      root,
      [{ path: "/etc" }, { path: "/evil/x", content: "x" }],
      false,
    );
    const { response } = await handleSync(req, data);
    assert.equal(response.error, '"/evil/x": symlink not permitted in path');
    assert.deepEqual(response.files, []);
    assert.equal(existsSync(join(root, "etc")), false, "nothing before the error was changed");
    assert.deepEqual(response.commands, []);
    assert.equal(existsSync(join(root, "log")), false);
  } finally {
    removeDir(root);
    removeDir(outside);
  }
});

test("a stop request after the files ends the sync before packages, services and commands", () => {
  const root = realpathSync(tempDir());
  chmodSync(root, 0o755);
  try {
    // In a child process: the stop flag of src/remote/abort.ts stays set once requested.
    // With a root other than /, packages would fail with their own error if they started.
    const src = (f: string) =>
      JSON.stringify(new URL(`../../src/remote/${f}`, import.meta.url).href);
    const script = `
      const { handleSync } = await import(${src("sync.ts")});
      const { requestStop } = await import(${src("abort.ts")});
      const request = { type: "sync_request", log_level: "info", dry_run: false, root: ${JSON.stringify(root)},
        files: [{ path: "/", type: "dir", mode: 0o755, user: 0, group: 0 }],
        packages: [{ name: "nginx", state: "present", recommends: false }],
        services: [{ name: "nginx", state: "started", enabled: null }], triggers: [], commands: [{ run: "echo ran > ran" }] };
      const out = await handleSync(request, Buffer.alloc(0), { log: () => {} });
      requestStop();
      const again = await handleSync(request, Buffer.alloc(0), { log: () => {} });
      console.log(JSON.stringify([out.response.error, again.response.error, again.response.commands]));`;
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const [before, after, commands] = JSON.parse(r.stdout) as [string, string, unknown[]];
    assert.match(before, /packages/i, "without a stop, packages start (and refuse this root)");
    assert.equal(after, "interrupted: stopped before the next change");
    assert.deepEqual(commands, []);
    assert.equal(existsSync(join(root, "ran")), false, "no command ran");
  } finally {
    removeDir(root);
  }
});

/** A state directory below a temporary one (the helper's own is /var/lib/safcm). */
function stateIn(dir: string): StateDir {
  return { base: dir, names: ["state"] };
}

test("a trigger whose command fails stays pending: the next sync runs it without a change, then clears it", async () => {
  const root = realpathSync(tempDir());
  const state = realpathSync(tempDir());
  chmodSync(root, 0o755);
  try {
    const journal = join(state, "state", journalName(root));
    const trigger = "echo try >> log; test -e fixed";
    const req = (dry_run = false, command = trigger): SyncRequest => ({
      type: "sync_request",
      log_level: "debug2",
      dry_run,
      root,
      files: request([{ path: "/" }, { path: "/etc" }, { path: "/etc/app.conf", content: "v2\n" }])
        .files,
      packages: [],
      services: [],
      triggers: [{ path: "/etc/app.conf", commands: [command] }],
      commands: [{ run: "echo plain >> log" }],
    });
    const data = Buffer.from("v2\n");
    const lines: string[] = [];
    const opts = {
      stateDir: stateIn(state),
      log: (level: string, text: string) => lines.push(`${level}: ${text}`),
    };
    const log = () => readFileSync(join(root, "log"), "utf8");
    const ran = (r: Awaited<ReturnType<typeof handleSync>>) =>
      r.response.commands.map((c) => [c.command, c.pending, c.exit_code]);

    const failing = await handleSync(req(), data, opts);
    assert.match(failing.response.error ?? "", /failed with exit status 1/);
    assert.ok(existsSync(journal), "left pending");

    const dry = await handleSync(req(true), data, opts);
    assert.deepEqual(dry.response.files, []);
    assert.deepEqual(ran(dry), [
      [trigger, true, null],
      ["echo plain >> log", undefined, null],
    ]);
    assert.ok(existsSync(journal), "a dry-run clears nothing");
    assert.equal(log(), "try\n", "and runs nothing");

    const again = await handleSync(req(), data, opts);
    assert.deepEqual(again.response.files, []);
    assert.deepEqual(ran(again), [[trigger, true, 1]], "runs again although nothing changed");
    assert.ok(existsSync(journal));

    writeFileSync(join(root, "fixed"), "");
    const fixed = await handleSync(req(), data, opts);
    assert.equal(fixed.response.error, null);
    assert.deepEqual(ran(fixed), [
      [trigger, true, 0],
      ["echo plain >> log", undefined, 0],
    ]);
    assert.equal(existsSync(journal), false, "cleared: no journal");
    const after = await handleSync(req(), data, opts);
    assert.deepEqual(ran(after), [["echo plain >> log", undefined, 0]]);
    assert.equal(log(), "try\ntry\ntry\nplain\nplain\n");

    // A pending trigger whose command is no longer configured is dropped, not run.
    const v3 = request([
      { path: "/" },
      { path: "/etc" },
      { path: "/etc/app.conf", content: "v3\n" },
    ]);
    const changed = await handleSync({ ...req(false, "exit 1"), files: v3.files }, v3.data, opts);
    assert.match(changed.response.error ?? "", /"exit 1" \(trigger for "\/etc\/app.conf"\) failed/);
    lines.length = 0;
    const other = await handleSync({ ...req(false, "true"), files: v3.files }, v3.data, opts);
    assert.equal(other.response.error, null);
    assert.deepEqual(ran(other), [["echo plain >> log", undefined, 0]]);
    assert.ok(
      lines.includes(
        'info: pending trigger "exit 1" for "/etc/app.conf" from an earlier sync is no longer configured; dropped',
      ),
      lines.join("\n"),
    );
    assert.equal(existsSync(journal), false);
  } finally {
    removeDir(root);
    removeDir(state);
  }
});

test("a sync that stops after the change that fires a trigger leaves it pending; the next sync runs it", async () => {
  const root = realpathSync(tempDir());
  const state = realpathSync(tempDir());
  chmodSync(root, 0o755);
  try {
    const { files, data } = request([
      { path: "/" },
      { path: "/etc" },
      { path: "/etc/app.conf", content: "new\n" },
      { path: "/etc/sudoers", content: "bad\n" },
    ]);
    files[3].validate = "grep -qx ok %s";
    const req: SyncRequest = {
      type: "sync_request",
      log_level: "debug2",
      dry_run: false,
      root,
      files,
      packages: [],
      services: [],
      triggers: [{ path: "/etc/app.conf", commands: ["echo reload >> log"] }],
      commands: [],
    };
    const first = await handleSync(req, data, { stateDir: stateIn(state) });
    assert.match(
      first.response.error ?? "",
      /^"\/etc\/sudoers": validate command "grep -qx ok %s" failed/,
    );
    assert.deepEqual(
      first.response.files.map((f) => f.path),
      ["/", "/etc", "/etc/app.conf", "/etc/sudoers"].filter((p) => p !== "/"),
    );
    assert.equal(existsSync(join(root, "log")), false, "the sync stopped before the triggers");

    const fixed = request([
      { path: "/" },
      { path: "/etc" },
      { path: "/etc/app.conf", content: "new\n" },
      { path: "/etc/sudoers", content: "ok\n" },
    ]);
    fixed.files[3].validate = "grep -qx ok %s";
    const second = await handleSync({ ...req, files: fixed.files }, fixed.data, {
      stateDir: stateIn(state),
    });
    assert.equal(second.response.error, null);
    // /etc was created by the first sync and stopped before its final mode was granted.
    assert.deepEqual(
      second.response.files.map((f) => f.path),
      ["/etc", "/etc/sudoers"],
    );
    assert.deepEqual(
      second.response.commands.map((c) => [c.trigger, c.pending]),
      [["/etc/app.conf", true]],
    );
    assert.equal(readFileSync(join(root, "log"), "utf8"), "reload\n");
    assert.deepEqual(readdirSync(join(state, "state")), []);
  } finally {
    removeDir(root);
    removeDir(state);
  }
});

test("the trigger of a directory taken over is recorded before the takeover: a journal that cannot be written changes nothing", async () => {
  // /d belongs to uid 65534; the configuration makes it 0750 root with a trigger. The
  // takeover is the sync's first change (SPEC 6, hostile ground): its trigger must be in
  // the journal before it, or a helper killed right after it would lose the trigger.
  const root = realpathSync(tempDir());
  const state = realpathSync(tempDir());
  chmodSync(root, 0o755);
  try {
    mkdirSync(join(root, "d"), { mode: 0o755 });
    chownSync(join(root, "d"), 65534, 65534);
    // A state directory others can write: the journal refuses to be kept there.
    mkdirSync(join(state, "state"), { mode: 0o777 });
    chmodSync(join(state, "state"), 0o777);
    const { files, data } = request([
      { path: "/" },
      { path: "/d", mode: 0o750 },
      { path: "/d/conf", content: "x\n" },
    ]);
    const r = await handleSync(
      {
        type: "sync_request",
        log_level: "info",
        dry_run: false,
        root,
        files,
        packages: [],
        services: [],
        triggers: [{ path: "/d", commands: ["echo reload >> log"] }],
        commands: [],
      },
      data,
      { stateDir: stateIn(state) },
    );
    assert.match(r.response.error ?? "", /cannot record the triggers this sync fires/);
    const d = lstatSync(join(root, "d"));
    assert.deepEqual([d.uid, d.mode & 0o7777], [65534, 0o755], "/d was not taken over");
    assert.deepEqual(readdirSync(join(root, "d")), []);
    assert.deepEqual(r.response.files, []);
  } finally {
    removeDir(root);
    removeDir(state);
  }
});
