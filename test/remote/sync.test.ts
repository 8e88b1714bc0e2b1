import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import type { SyncRequest } from "../../src/protocol/messages.ts";
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
      commands: ["echo always >> log"],
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
        services: [{ name: "nginx", state: "started", enabled: null }], triggers: [], commands: ["echo ran > ran"] };
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
