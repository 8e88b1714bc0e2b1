// Crash consistency: the helper is killed with SIGKILL at random points while
// it syncs 300 files over 10 directories (new files, changed contents, mode
// and owner changes, file <-> symlink changes, a directory whose owner and
// mode change, a directory left 0700, a new directory), several times in a
// row; then a sync without a kill must finish the job.
//
// How the kill is done: hosts.yaml `node:` is a small wrapper script that
// starts a background "sleep $SAFCM_TEST_KILL_AFTER; kill -9" against its own
// pid and then execs the real node, so the real helper dies at a random point
// of its run (the delays come from a seeded generator: the seed is printed,
// SAFCM_CRASH_SEED overrides it; timing still varies from machine to machine).
// The first kill of every round does not depend on timing: the wrapper
// preloads a small hook (node --require) that counts the helper's writes of
// file content and, at the N-th (N seeded, between 20 % and 80 % of the
// writes of a full run), writes half of that chunk and SIGKILLs the helper.
// So each round is killed in the middle of writing a file, with some files
// already new and others still old, the same way for the same seed on every
// machine; the test asserts exactly that (old and new mixed, a partial
// temporary file left) and that the next sync completes it.
//
// After every kill, each managed path must be in a state that some moment of
// a correct run could leave:
// - a regular file or symlink is either completely old or completely new, in
//   content AND type AND mode AND owner of that same version (never new
//   content with the old mode, never a partial file): the helper writes a
//   temporary file, sets its owner and mode on the descriptor, fsyncs it and
//   renames it over the target;
// - a directory whose mode and owner change may also show the middle state
//   it is held in while its subtree is synced (src/remote/plan.ts
//   middleState: access both old and new give, owned by the helper where the
//   owner changes hands) and the steps of changeDir on the way there and on;
// - a new directory may be missing, or present with mode 0700 owned by the
//   helper (created 0700, killed before its subtree was done and its owner
//   and mode were set), or on the way from there to its final state.
// What a crash can leave behind:
// - temporary files `.<name>.safcm-<16 hex>` (regular files or symlinks, with
//   partial or complete content, or a symlink's private 0700 directory with
//   the new link in it) in a managed directory: the next real sync
//   removes them (src/remote/cleanup.ts removeStaleTemps), and this test
//   checks that nothing else unexpected appears;
// - a directory created 0700 whose final mode and owner were not set yet, or
//   a directory at the intermediate mode: the next sync sees the difference
//   and fixes it;
// - (not exercised here: a change to or from a directory removes the old
//   entry first, so a kill in between leaves the path missing until the next
//   sync.)
// After the final sync everything equals the new state exactly, no temporary
// file is left, and one more sync reports nothing.

import { NEW_DIR_MARKER } from "../../src/remote/safe-fs.ts";
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { middleState } from "../../src/remote/plan.ts";
import { safcm, tempDir, writeTree, type Node } from "../helpers/tree.ts";

const SEED = Number(process.env.SAFCM_CRASH_SEED ?? 20_240_611);
/** The kill phase stops starting rounds after this long (the whole test takes ~20 s). */
const BUDGET_MS = Number(process.env.SAFCM_CRASH_BUDGET_MS ?? 12_000);
const KILLS_PER_ROUND = 4;
const DIRS = 10;
const FILES = 30;

/** mulberry32: a small seeded generator, so a failing run can be repeated. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface State {
  type: "file" | "symlink" | "dir";
  mode: number;
  uid: number;
  gid: number;
  /** File content or symlink target ("" for a directory). */
  data: string;
}

const file = (data: string, mode = 0o644, uid = 0, gid = 0): State => ({
  type: "file",
  mode,
  uid,
  gid,
  data,
});
const link = (target: string, uid = 0, gid = 0): State => ({
  type: "symlink",
  mode: 0o777,
  uid,
  gid,
  data: target,
});
const dir = (mode = 0o755, uid = 0, gid = 0): State => ({ type: "dir", mode, uid, gid, data: "" });

/** Old and new state of every managed path (relative to the root; "" is the root). */
function model(): Map<string, { old: State | null; new: State }> {
  const m = new Map<string, { old: State | null; new: State }>();
  m.set("", { old: dir(), new: dir() });
  for (let d = 0; d < DIRS; d++) {
    const name = `d${d}`;
    // d7: left 0700 by an earlier crash; d8: owner and mode change; d9: new.
    const oldDir = d === 7 ? dir(0o700) : d === 8 ? dir(0o775, 1234, 1234) : d === 9 ? null : dir();
    m.set(name, { old: oldDir, new: d === 8 ? dir(0o750) : dir() });
    for (let i = 0; i < FILES; i++) {
      const path = `${name}/f${i}`;
      const big = `${path} `.repeat(1 + ((d * FILES + i) % 7) * 300); // up to ~16 KiB
      const next = `new ${big}\n`;
      const prev = `old ${big}\n`;
      let entry: { old: State | null; new: State };
      switch (d === 9 ? 0 : i % 7) {
        case 0: // new file
          entry = { old: null, new: file(next) };
          break;
        case 1: // changed content
          entry = { old: file(prev), new: file(next) };
          break;
        case 2: // mode and owner only
          entry = { old: file(next, 0o600), new: file(next, 0o640, 1234, 2345) };
          break;
        case 3: // content, mode and owner
          entry = { old: file(prev, 0o644), new: file(next, 0o600, 1000, 1000) };
          break;
        case 4: // file -> symlink
          entry = { old: file(prev), new: link(`target-${i}`) };
          break;
        case 5: // symlink -> file
          entry = { old: link(`old-target-${i}`), new: file(next, 0o640) };
          break;
        default: // unchanged
          entry = { old: file(next), new: file(next) };
      }
      m.set(path, entry);
    }
  }
  return m;
}

const MODEL = model();
const MODE = (s: State) => s.mode.toString(8).padStart(4, "0");

/** The configuration directory that declares the new state. */
function writeConfig(conf: string, root: string, node: string): void {
  const tree: Record<string, Node> = {
    "hosts.yaml": `- name: h1\n  connection: local\n  root: ${root}\n  node: ${node}\n`,
  };
  const permissions: string[] = [];
  for (const [path, { new: s }] of MODEL) {
    if (path === "") continue;
    const local = `all/files/${path}`;
    if (s.type === "dir") tree[local] = { dir: true };
    else if (s.type === "symlink") tree[local] = { symlink: s.data };
    else tree[local] = s.data;
    if (s.type !== "symlink" && (s.mode !== (s.type === "dir" ? 0o755 : 0o644) || s.uid !== 0)) {
      permissions.push(`/${path}: ${MODE(s)} ${s.uid} ${s.gid}`);
    }
  }
  tree["all/permissions.yaml"] = permissions.join("\n") + "\n";
  writeTree(conf, tree);
}

/** Puts the root back into the old state. */
function writeOld(root: string): void {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root);
  chmodSync(root, 0o755);
  for (const [path, { old }] of MODEL) {
    if (path === "" || old === null) continue;
    const full = join(root, path);
    if (old.type === "dir") {
      mkdirSync(full);
      chmodSync(full, old.mode);
      chownSync(full, old.uid, old.gid);
      // Left 0700 by an interrupted sync, which marks a new directory until it is final.
      if (old.mode === 0o700) writeFileSync(join(full, NEW_DIR_MARKER), "", { mode: 0o600 });
    } else if (old.type === "symlink") {
      symlinkSync(old.data, full);
      lchownSync(full, old.uid, old.gid);
    } else {
      writeFileSync(full, old.data);
      chmodSync(full, old.mode);
      chownSync(full, old.uid, old.gid);
    }
  }
}

function read(full: string): State | null {
  let st;
  try {
    st = lstatSync(full);
  } catch {
    return null;
  }
  const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  if (st.isDirectory()) return { type: "dir", ...base, data: "" };
  if (st.isSymbolicLink()) return { type: "symlink", ...base, data: readlinkSync(full, "utf8") };
  if (st.isFile()) return { type: "file", ...base, data: readFileSync(full, "utf8") };
  throw new Error(`${full}: unexpected file type`);
}

const same = (a: State | null, b: State | null): boolean =>
  a === null || b === null
    ? a === b
    : a.type === b.type &&
      a.mode === b.mode &&
      a.uid === b.uid &&
      a.gid === b.gid &&
      a.data === b.data;

/** The states changeDir passes through from `a` to `b` (drop bits, chown, final mode). */
function steps(a: State, b: State): State[] {
  const common = { ...a, mode: a.mode & b.mode };
  return [a, common, { ...common, uid: b.uid, gid: b.gid }, b];
}

/** Every state a moment of a correct run can leave at a path. */
function allowed(old: State | null, next: State): (State | null)[] {
  if (next.type !== "dir") return [old, next];
  // A new directory is made 0700 by the helper (root) and handed over after its subtree.
  if (old === null) return [null, ...steps(dir(0o700), next)];
  // An existing one is held in a middle state while its subtree is synced (SPEC 6).
  const middle = { ...old, ...middleState(old, next, { uid: 0, gid: 0 }) };
  return [...steps(old, middle), ...steps(middle, next)];
}

const describeState = (s: State | null): string =>
  s === null
    ? "missing"
    : `${s.type} ${MODE(s)} ${s.uid}:${s.gid} ${JSON.stringify(s.data.slice(0, 24))}${s.data.length > 24 ? "..." : ""} (${s.data.length})`;

const TEMP = /^\..+\.safcm-[0-9a-f]{16}$/s;

/** The new content of the file a temporary file `.<name>.safcm-<hex>` in `dir` stands for. */
function newContent(dir: string, tempName: string): string | undefined {
  const name = tempName.slice(1, tempName.lastIndexOf(".safcm-"));
  const s = MODEL.get(dir === "" ? name : `${dir}/${name}`)?.new;
  return s?.type === "file" ? s.data : undefined;
}

/**
 * Checks the invariant after a kill; returns how many paths were new, how many
 * temporary files were left and how many of those were partly written.
 */
function checkConsistent(
  root: string,
  context: string,
): { fresh: number; temps: number; partial: number } {
  let fresh = 0;
  let temps = 0;
  let partial = 0;
  for (const [path, { old, new: next }] of MODEL) {
    const actual = read(join(root, path));
    const ok = allowed(old, next).some((s) => same(s, actual));
    assert.ok(
      ok,
      `${context}: "/${path}" is ${describeState(actual)}; expected old ${describeState(old)} or new ${describeState(next)}`,
    );
    if (same(actual, next) && !same(old, next)) fresh++;
    if (actual?.type !== "dir") continue;
    for (const name of readdirSync(join(root, path))) {
      const child = path === "" ? name : `${path}/${name}`;
      if (MODEL.has(child)) continue;
      // A new directory not yet final holds the helper's marker (safe-fs.ts NEW_DIR_MARKER).
      if (name === NEW_DIR_MARKER && (lstatSync(join(root, path)).mode & 0o7777) === 0o700)
        continue;
      const st = lstatSync(join(root, child));
      // A symlink's private directory (0700, holding at most the new link) counts too.
      const privateDir =
        st.isDirectory() &&
        (st.mode & 0o7777) === 0o700 &&
        readdirSync(join(root, child)).every((n) => n === "link");
      assert.ok(
        TEMP.test(name) && (st.isFile() || st.isSymbolicLink() || privateDir),
        `${context}: unexpected entry "/${child}"`,
      );
      temps++;
      if (st.isFile()) {
        const data = readFileSync(join(root, child), "utf8");
        const whole = newContent(path, name);
        assert.ok(
          whole !== undefined && whole.startsWith(data),
          `${context}: "/${child}" holds something other than (the start of) its file's new content`,
        );
        if (data.length < whole.length) partial++;
      }
    }
  }
  return { fresh, temps, partial };
}

function checkNew(root: string, context: string): void {
  for (const [path, { new: next }] of MODEL) {
    const actual = read(join(root, path));
    assert.ok(
      same(actual, next),
      `${context}: "/${path}" is ${describeState(actual)}, expected ${describeState(next)}`,
    );
  }
  const { temps } = checkConsistent(root, context);
  assert.equal(temps, 0, `${context}: temporary files left`);
}

const { dir: base, cleanup } = tempDir("safcm-crash-");
after(cleanup);

test("SIGKILL of the helper at random points never leaves a half-written file, and the next sync finishes the job", async () => {
  const root = join(base, "root");
  const conf = join(base, "conf");
  const wrapper = join(base, "node-killer.sh");
  const hook = join(base, "kill-at-write.cjs");
  const settings = join(base, "kill-settings.sh");
  writeFileSync(
    hook,
    [
      '"use strict";',
      "// Preloaded into the helper: SAFCM_TEST_KILL_AT_WRITE=N writes half of the",
      "// N-th chunk of file content and then SIGKILLs the process;",
      "// SAFCM_TEST_WRITES_FILE receives the number of such writes at exit.",
      'const fs = require("node:fs");',
      "const killAt = Number(process.env.SAFCM_TEST_KILL_AT_WRITE || 0);",
      "const countFile = process.env.SAFCM_TEST_WRITES_FILE;",
      "const real = fs.writeSync;",
      "let n = 0;",
      "fs.writeSync = function (fd, buf, offset, length, ...rest) {",
      '  if (fd > 2 && typeof buf !== "string" && ++n === killAt) {',
      "    const start = offset ?? 0;",
      "    const size = length ?? buf.length - start;",
      "    real(fd, buf, start, Math.floor(size / 2));",
      '    process.kill(process.pid, "SIGKILL");',
      "  }",
      "  return real.call(fs, fd, buf, offset, length, ...rest);",
      "};",
      'if (countFile) process.on("exit", () => { fs.writeSync = real; fs.writeFileSync(countFile, String(n)); });',
      "",
    ].join("\n"),
  );
  writeFileSync(
    wrapper,
    [
      "#!/bin/sh",
      "# The real node, SIGKILLed after $SAFCM_TEST_KILL_AFTER seconds (when set).",
      "# The settings come from a file: the local helper gets a clean environment (SPEC 3.5).",
      `. '${settings}'`,
      "export SAFCM_TEST_KILL_AT_WRITE SAFCM_TEST_WRITES_FILE",
      'date +%s%N > "$SAFCM_TEST_STAMP"',
      'if [ -n "$SAFCM_TEST_KILL_AFTER" ]; then',
      '  (sleep "$SAFCM_TEST_KILL_AFTER"; kill -9 $$) </dev/null >/dev/null 2>&1 &',
      "fi",
      `exec '${process.execPath}' --require '${hook}' "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  writeConfig(conf, root, wrapper);
  const stamp = join(base, "helper-started");
  const writes = join(base, "helper-writes");
  /**
   * Runs the CLI; `kill`: seconds after which the helper is killed, or the
   * number of the write of file content in which it is killed.
   * `seconds`: how long the helper lived (until the CLI exited).
   */
  const sync = async (kill: number | { write: number } | null, ...args: string[]) => {
    const values = {
      SAFCM_TEST_KILL_AFTER: typeof kill === "number" ? kill.toFixed(3) : "",
      SAFCM_TEST_KILL_AT_WRITE: typeof kill === "object" && kill ? String(kill.write) : "",
      SAFCM_TEST_WRITES_FILE: writes,
      SAFCM_TEST_STAMP: stamp,
    };
    writeFileSync(
      settings,
      Object.entries(values)
        .map(([name, value]) => `${name}='${value}'\n`)
        .join(""),
    );
    const r = await safcm(["sync", "-C", conf, ...args, "h1"]);
    const seconds =
      (Date.now() - Number(BigInt(readFileSync(stamp, "utf8").trim()) / 1_000_000n)) / 1000;
    return { ...r, seconds };
  };

  // Calibration (and a check of the model): how long the helper lives for a
  // full run from the old state and for a run that changes nothing.
  writeOld(root);
  checkConsistent(root, "old state");
  const full = await sync(null);
  assert.equal(full.code, 0, full.stdout + full.stderr);
  checkNew(root, "uninterrupted sync");
  /** How many chunks of file content a full run writes. */
  const fullWrites = Number(readFileSync(writes, "utf8"));
  assert.ok(fullWrites >= 100, `a full run writes ${fullWrites} chunks of file content`);
  const noop = await sync(null);
  assert.equal(noop.code, 0, noop.stderr);
  const changing = [...MODEL.values()].filter((e) => !same(e.old, e.new)).length;
  /** A random delay that most likely lands while files are being written. */
  const delay = (u: number, fresh: number): number => {
    const remaining = 1 - fresh / changing;
    // The helper's lifetime also covers start-up, the reply and the CLI's exit:
    // aim at the part in between, where files are written.
    const lo = noop.seconds * 0.3;
    const hi = noop.seconds * 0.7 + Math.max(0, full.seconds - noop.seconds) * remaining;
    return lo + u * (hi - lo);
  };

  const next = random(SEED);
  const stats = { rounds: 0, kills: 0, interrupted: 0, mixed: 0, temps: 0, partial: 0 };
  const begin = Date.now();
  while (stats.rounds < 2 || Date.now() - begin < BUDGET_MS) {
    stats.rounds++;
    writeOld(root);
    // In the middle of writing a file: the same point for the same seed everywhere.
    const write = Math.floor(fullWrites * (0.2 + 0.6 * next()));
    const during = `seed ${SEED}, round ${stats.rounds}, kill in write ${write} of ${fullWrites}`;
    const cut = await sync({ write });
    stats.kills++;
    stats.interrupted++;
    assert.equal(cut.code, 1, `${during}: ${cut.stdout}${cut.stderr}`);
    assert.match(cut.stdout, /\[h1\] error: /, during);
    assert.doesNotMatch(cut.stderr, /^ {4}at /m, `${during}: no stack trace`);
    const found = checkConsistent(root, during);
    let fresh = found.fresh;
    assert.ok(
      fresh > 0 && fresh < changing,
      `${during}: ${fresh} of ${changing} changing paths are new (old and new mixed expected)`,
    );
    assert.ok(
      found.partial > 0,
      `${during}: the file being written is left only as a partial temporary file`,
    );
    stats.mixed++;
    stats.temps += found.temps;
    stats.partial += found.partial;
    for (let k = 1; k < KILLS_PER_ROUND; k++) {
      const after = delay(next(), fresh);
      const context = `seed ${SEED}, round ${stats.rounds}, kill ${k + 1} after ${after.toFixed(3)} s`;
      const r = await sync(after);
      stats.kills++;
      assert.ok(r.code === 0 || r.code === 1, `${context}: exit ${r.code}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^ {4}at /m, `${context}: no stack trace`);
      if (r.code === 1) {
        stats.interrupted++;
        assert.match(r.stdout, /\[h1\] error: /, context);
      }
      const found = checkConsistent(root, context);
      fresh = found.fresh;
      if (fresh > 0 && fresh < changing) stats.mixed++;
      stats.temps += found.temps;
      stats.partial += found.partial;
    }
    const context = `seed ${SEED}, round ${stats.rounds}, final sync`;
    const final = await sync(null);
    assert.equal(final.code, 0, `${context}: ${final.stderr}`);
    checkNew(root, context);
    const again = await sync(null, "--json");
    assert.equal(again.code, 0, again.stderr);
    const report = JSON.parse(again.stdout) as { hosts: { files: unknown[] }[] };
    assert.deepEqual(report.hosts[0]?.files, [], `${context}: a further sync changes nothing`);
  }
  process.stdout.write(
    `# crash test: seed ${SEED} (SAFCM_CRASH_SEED), helper runs ${noop.seconds.toFixed(2)} s (nothing to do) to ${full.seconds.toFixed(2)} s (everything), ${stats.rounds} rounds, ` +
      `${stats.kills} kills, ${stats.interrupted} interrupted a sync, ${stats.mixed} left old and new files mixed, ` +
      `${stats.temps} temporary files left behind (${stats.partial} partly written; removed by the next sync)\n`,
  );
  assert.ok(stats.interrupted > 0, "at least one kill hit a running helper");
});
