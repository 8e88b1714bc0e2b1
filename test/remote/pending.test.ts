// The pending-trigger journal (SPEC 3.5, 5.7) on its own: written durably
// before a change, one per root, gone when nothing is pending, never trusted
// or written in a directory others could write, and a broken journal is a
// warning, never a failure. The state directory lies below a temporary
// directory here (StateDir's base); the helper's own is /var/lib/safcm.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { LogLevel } from "../../src/protocol/messages.ts";
import {
  PendingJournal,
  hostStateDir,
  journalName,
  type StateDir,
} from "../../src/remote/pending.ts";
import { removeDir, tempDir } from "./util.ts";

const triggers = [
  { path: "/etc/nginx", commands: ["systemctl reload nginx", "log"] },
  { path: "/etc/ssh", commands: ["systemctl reload ssh"] },
];

function withState(fn: (state: StateDir, dir: string) => void): void {
  const base = realpathSync(tempDir());
  try {
    fn({ base, names: ["var", "safcm"] }, join(base, "var/safcm"));
  } finally {
    removeDir(base);
  }
}

function collect(): { log: (level: LogLevel, text: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { log: (level, text) => lines.push(`${level}: ${text}`), lines };
}

test("the helper's state directory: /var/lib/safcm as root; one journal per root", () => {
  if (process.geteuid?.() === 0) {
    assert.deepEqual(hostStateDir(), { base: "/", names: ["var", "lib", "safcm"] });
  }
  assert.equal(journalName("/"), "pending-triggers.json");
  assert.match(journalName("/srv/img"), /^pending-triggers-[0-9a-f]{16}\.json$/);
  assert.notEqual(journalName("/srv/img"), journalName("/srv/img2"));
});

test("recorded before the change: a private file, read back by the next sync; gone once cleared", () =>
  withState((state, dir) => {
    const { log, lines } = collect();
    const first = PendingJournal.load("/", state, log, true);
    assert.equal(existsSync(dir), false, "nothing is written while nothing is pending");
    assert.equal(first.record(triggers, ["/etc/motd"]), null);
    assert.equal(existsSync(dir), false, "a change no trigger covers records nothing");
    assert.equal(first.record(triggers, ["/etc/nginx/nginx.conf", "/etc/nginx/x"]), null);

    const file = join(dir, journalName("/"));
    assert.equal(statSync(file).mode & 0o7777, 0o600);
    assert.equal(statSync(dir).mode & 0o7777, 0o755);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), {
      version: 1,
      root: "/",
      pending: [
        { path: "/etc/nginx", command: "systemctl reload nginx" },
        { path: "/etc/nginx", command: "log" },
      ],
    });
    assert.deepEqual(readdirSync(dir), [journalName("/")], "no temporary file left");

    const second = PendingJournal.load("/", state, log, true);
    assert.deepEqual(second.list(), first.list());
    assert.equal(second.record(triggers, ["/etc/nginx"]), null, "already pending: no write");
    second.clear("systemctl reload nginx");
    assert.equal(second.save(), null);
    const left = JSON.parse(readFileSync(file, "utf8")) as { pending: unknown[] };
    assert.equal(left.pending.length, 1);
    second.clear("log");
    assert.equal(second.save(), null);
    assert.equal(existsSync(file), false, "nothing pending: no journal");
    assert.deepEqual(lines, [], "no warning on the way");
  }));

test("a root other than / has a journal of its own", () =>
  withState((state, dir) => {
    const a = PendingJournal.load("/srv/a", state, () => {}, true);
    const b = PendingJournal.load("/srv/b", state, () => {}, true);
    assert.equal(a.record(triggers, ["/etc/ssh/sshd_config"]), null);
    assert.equal(b.record(triggers, ["/etc/nginx/nginx.conf"]), null);
    assert.deepEqual(
      readdirSync(dir).sort(),
      [journalName("/srv/a"), journalName("/srv/b")].sort(),
    );
    assert.deepEqual(PendingJournal.load("/srv/a", state, () => {}, false).list(), [
      { path: "/etc/ssh", command: "systemctl reload ssh" },
    ]);
  }));

test("an unreadable journal is a warning, never a failure: removed by a real sync, kept by a dry-run", () =>
  withState((state, dir) => {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const file = join(dir, journalName("/"));
    for (const broken of ["{not json", '{"version":9}', '{"version":1,"root":"/x","pending":[]}']) {
      writeFileSync(file, broken, { mode: 0o600 });
      const dry = collect();
      assert.deepEqual(PendingJournal.load("/", state, dry.log, false).list(), []);
      assert.match(
        dry.lines.join("\n"),
        /^info: warning: the pending-trigger journal ".*" is unreadable \(.*\); a sync removes it/,
      );
      assert.ok(existsSync(file), "a dry-run changes nothing");
      const real = collect();
      PendingJournal.load("/", state, real.log, true);
      assert.match(real.lines.join("\n"), /is unreadable .*; it is removed/);
      assert.equal(existsSync(file), false);
    }
    // A symbolic link is never followed.
    writeFileSync(join(dir, "elsewhere"), "{}");
    symlinkSync("elsewhere", file);
    const link = collect();
    assert.deepEqual(PendingJournal.load("/", state, link.log, false).list(), []);
    assert.match(link.lines.join("\n"), /is unreadable \(a symbolic link\)/);
  }));

test("a state directory that others can write is not trusted, and recording there fails before any change", () =>
  withState((state, dir) => {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const journal = PendingJournal.load("/", state, () => {}, true);
    assert.equal(journal.record(triggers, ["/etc/ssh"]), null);
    for (const spoil of [
      () => chmodSync(dir, 0o775),
      () => chmodSync(join(state.base, "var"), 0o757),
      () => chownSync(dir, 4242, 0),
    ]) {
      spoil();
      const { log, lines } = collect();
      const j = PendingJournal.load("/", state, log, true);
      assert.deepEqual(j.list(), [], "what others could have written is not run");
      assert.match(
        lines.join("\n"),
        /is not used: ".*" is not a directory owned by root \(or the helper's user\) and writable by nobody else/,
      );
      assert.match(
        j.record(triggers, ["/etc/nginx/x"]) ?? "",
        /^cannot record the triggers this sync fires: ".*" is not a directory owned by root/,
      );
      assert.equal(j.save(), null, "nothing to keep: no error");
      chmodSync(dir, 0o755);
      chmodSync(join(state.base, "var"), 0o755);
      chownSync(dir, 0, 0);
    }
    // A symbolic link on the way is not followed either.
    removeDir(join(state.base, "var"));
    mkdirSync(join(state.base, "real"), { mode: 0o755 });
    symlinkSync("real", join(state.base, "var"));
    const { log, lines } = collect();
    const j = PendingJournal.load("/", state, log, true);
    assert.match(lines.join("\n"), /symlink not permitted in path/);
    assert.match(j.record(triggers, ["/etc/ssh"]) ?? "", /symlink not permitted in path/);
    assert.deepEqual(readdirSync(join(state.base, "real")), []);
  }));
