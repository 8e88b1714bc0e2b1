// Hostile ground (SPEC 6, issue 18): an unprivileged user (uid 65534) who owns a
// directory on the managed path races the sync: re-adds ACLs in a loop, opens the
// temporary files as they appear, swaps entries after the helper looked at them, plants
// a symbolic link whose target text names another directory in the ACL check. Each
// scenario is repeated until the old code's window is hit (against d9feca8 these
// leaked in most rounds: see the issue and the closing note); the sync must leave that
// user with no access to what it wrote, in every round.
//
// The sync runs in this process (the helper's file engine, syncFiles), so that many
// rounds fit in the suite; test/security/hostile-ground-e2e.test.ts runs scenario F
// through the CLI, locally and over ssh.

import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { syncFiles } from "../../src/remote/files.ts";
import { requireProgramsForFile } from "../helpers/programs.ts";
import { removeDir, request, tempDir, type Spec } from "../remote/util.ts";

requireProgramsForFile({ setfacl: "acl", getfacl: "acl" });

const ROUNDS = 20;
const NOBODY = 65534;

/** Extended ACL entries of `path` (named entries, mask, default ACL); [] when it has none. */
export function extendedAcl(path: string): string[] {
  const r = spawnSync("getfacl", ["-c", "-p", path], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l !== "" && !/^(user|group|other)::/.test(l));
}

/** What uid 65534 gets when reading each file: its content, or the error code. */
export function readAsNobody(paths: string[]): string[] {
  const script = `
    const fs = require("node:fs");
    console.log(JSON.stringify(process.argv.slice(1).map((p) => {
      try { return fs.readFileSync(p, "utf8"); } catch (e) { return e.code; }
    })));`;
  const r = spawnSync(process.execPath, ["-e", script, ...paths], {
    uid: NOBODY,
    gid: NOBODY,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

/** A process of uid 65534 running `script` (node), until the test ends its stdin; started when it printed "ready". */
export async function attacker(script: string, args: string[]): Promise<Attacker> {
  const child = spawn(process.execPath, ["-e", script, ...args], {
    uid: NOBODY,
    gid: NOBODY,
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: string) => {
      output += chunk;
      if (output.includes("ready\n")) resolve();
    });
    child.on("exit", () => reject(new Error(`attacker ended early: ${output}`)));
  });
  return {
    child,
    async stop(): Promise<string> {
      const done = new Promise<void>((resolve) => child.on("exit", () => resolve()));
      child.stdin.end();
      await done;
      return output.slice(output.indexOf("ready\n") + "ready\n".length);
    },
  };
}

export interface Attacker {
  child: ChildProcess;
  /** Ends it; returns what it printed after "ready". */
  stop(): Promise<string>;
}

/** Preamble of every attacker script: `loop(body)` runs body until stdin ends, then exits. */
const LOOP = `
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
let running = true;
process.stdin.on("end", () => { running = false; });
process.stdin.resume();
function loop(body) {
  (function next() {
    if (!running) { if (typeof finish === "function") finish(); process.exit(0); }
    for (let i = 0; i < 20; i++) { try { body(); } catch {} }
    setImmediate(next);
  })();
  process.stdout.write("ready\\n");
}
`;

/** Keeps giving uid 65534 a default and an access ACL on the directory argv[1] (F, B). */
const ACL_LOOP = `${LOOP}
const dir = process.argv[1];
const toggle = process.argv[2] === "toggle";
let n = 0;
loop(() => {
  n++;
  if (toggle && n % 2 === 0) spawnSync("setfacl", ["-b", dir]);
  else spawnSync("setfacl", ["-m", "u:65534:rwx,d:u:65534:rwx,d:m::rwx", dir]);
});
`;

/** Watches argv[1] (inotify) and opens every temporary file of safcm as it appears (C). */
const OPEN_TEMPS = `${LOOP}
const dir = process.argv[1];
const fds = [];
const tryOpen = (name) => {
  if (!name || !name.includes(".safcm-")) return;
  try { fds.push(fs.openSync(path.join(dir, name), "r")); } catch {}
};
fs.watch(dir, (event, name) => tryOpen(name));
loop(() => { for (const name of fs.readdirSync(dir)) tryOpen(name); });
function finish() {
  for (const fd of fds) {
    const text = fs.readFileSync(fd, "utf8");
    if (text !== "") process.stdout.write(JSON.stringify(text) + "\\n");
  }
}
`;

/**
 * Swaps each of the entries argv[3...] of the directory argv[1] in and out of place with
 * the user's own copy (argv[2] "-", B2) or with a symbolic link whose target text is
 * argv[2] (E): moves the root-owned original aside and back, so that the helper sees the
 * original at one moment and the user's entry the next, switching about every 0.5 ms.
 */
const SWAP = `${LOOP}
const dir = process.argv[1], target = process.argv[2], names = process.argv.slice(3);
const at = (n) => path.join(dir, n);
for (const name of names) {
  if (target === "-") fs.writeFileSync(at(".own-" + name), fs.readFileSync(at(name)));
  else fs.symlinkSync(target, at(".own-" + name));
}
let original = true;
let last = process.hrtime.bigint();
loop(() => {
  const now = process.hrtime.bigint();
  if (now - last < 500000n) return;
  last = now;
  for (const name of names) {
    if (original) {
      fs.renameSync(at(name), at(".orig-" + name));   // original aside
      fs.renameSync(at(".own-" + name), at(name));    // the user's entry in place
    } else {
      fs.renameSync(at(name), at(".own-" + name));    // the user's entry away
      fs.renameSync(at(".orig-" + name), at(name));   // original back
    }
  }
  original = !original;
});
`;

function sync(root: string, specs: Spec[]): ReturnType<typeof syncFiles> {
  const { files, data } = request(specs);
  return syncFiles({ root, files, data, apply: true });
}

/** Runs `body` in ROUNDS fresh roots; fails naming how many rounds failed, and the first failure. */
function round(name: string, body: (root: string, n: number) => Promise<void>) {
  test(name, async () => {
    const failed: string[] = [];
    for (let n = 0; n < ROUNDS; n++) {
      const root = tempDir();
      chmodSync(root, 0o755);
      try {
        await body(root, n);
      } catch (err) {
        failed.push(`round ${n + 1}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        removeDir(root);
      }
    }
    assert.equal(failed.length, 0, `${failed.length} of ${ROUNDS} rounds failed; ${failed[0]}`);
  });
}

/** /home/u: a directory of uid 65534 that stays theirs (declared so). */
function homeOf(root: string): string {
  const home = join(root, "home/u");
  mkdirSync(home, { recursive: true });
  chownSync(home, NOBODY, NOBODY);
  return home;
}

const HOME_SPECS: Spec[] = [
  { path: "/" },
  { path: "/home" },
  { path: "/home/u", mode: 0o755, user: NOBODY, group: NOBODY },
];

round(
  "F: a new directory and secret below a directory whose owner keeps re-adding a default ACL stay theirs alone",
  async (root, n) => {
    const home = homeOf(root);
    const user = await attacker(ACL_LOOP, [home]);
    let result;
    try {
      result = sync(root, [
        ...HOME_SPECS,
        { path: "/home/u/app", mode: 0o750 },
        { path: "/home/u/app/secret", content: `SECRET F ${n}\n`, mode: 0o640 },
        { path: "/home/u/note", content: `SECRET note ${n}\n`, mode: 0o640 },
      ]);
    } finally {
      await user.stop();
    }
    assert.equal(result.error, null);
    const app = join(home, "app");
    for (const path of [app, join(app, "secret"), join(home, "note")]) {
      assert.deepEqual(extendedAcl(path), [], `${path} has no ACL`);
    }
    assert.deepEqual(readAsNobody([join(app, "secret"), join(home, "note")]), ["EACCES", "EACCES"]);
  },
);

round(
  "C: the user opens every temporary file as it appears and reads none of the new content",
  async (root, n) => {
    const home = homeOf(root);
    spawnSync("setfacl", ["-m", "d:u:65534:rwx,d:m::rwx", home]);
    const acl = await attacker(ACL_LOOP, [home]);
    const opener = await attacker(OPEN_TEMPS, [home]);
    let result;
    let seen: string;
    try {
      result = sync(root, [
        ...HOME_SPECS,
        ...[0, 1, 2, 3].map((i) => ({
          path: `/home/u/secret${i}`,
          content: `SECRET C ${n} ${i}\n`,
          mode: 0o640,
        })),
      ]);
    } finally {
      await acl.stop();
      seen = await opener.stop();
    }
    assert.equal(result.error, null);
    assert.equal(seen, "", "the user read a temporary file");
    assert.deepEqual(extendedAcl(join(home, "secret0")), []);
  },
);

/** /d: a directory of uid 65534 that the configuration takes over as 0750 root:root. */
function takenOver(root: string, keep?: string): string {
  const d = join(root, "d");
  mkdirSync(d);
  if (keep !== undefined) {
    writeFileSync(join(d, "keep"), keep);
    chmodSync(join(d, "keep"), 0o644);
  }
  chownSync(d, NOBODY, NOBODY);
  chmodSync(d, 0o755);
  return d;
}

round(
  "B: an ACL set on a directory between the helper's look and its takeover does not survive",
  async (root, n) => {
    const d = takenOver(root);
    const user = await attacker(ACL_LOOP, [d, "toggle"]);
    let result;
    try {
      result = sync(root, [
        { path: "/" },
        { path: "/d", mode: 0o750 },
        { path: "/d/secret", content: `SECRET B ${n}\n`, mode: 0o640 },
      ]);
    } finally {
      await user.stop();
    }
    assert.equal(result.error, null);
    assert.deepEqual(extendedAcl(d), [], "/d has no ACL");
    assert.deepEqual(extendedAcl(join(d, "secret")), [], "/d/secret has no ACL");
    assert.deepEqual(readAsNobody([join(d, "secret")]), ["EACCES"]);
  },
);

round(
  "B2: an unchanged file swapped for the user's own copy after the helper compared it is replaced",
  async (root) => {
    const d = takenOver(root, "kept content\n");
    const user = await attacker(SWAP, [d, "-", "keep"]);
    let result;
    try {
      result = sync(root, [
        { path: "/" },
        { path: "/d", mode: 0o750 },
        { path: "/d/keep", content: "kept content\n", mode: 0o644 },
        { path: "/d/secret", content: "SECRET B2\n", mode: 0o640 },
      ]);
    } finally {
      await user.stop();
    }
    assert.equal(result.error, null);
    const keep = lstatSync(join(d, "keep"));
    assert.ok(keep.isFile());
    assert.deepEqual([keep.uid, keep.gid, keep.mode & 0o7777], [0, 0, 0o644], "/d/keep is root's");
    assert.equal(readFileSync(join(d, "keep"), "utf8"), "kept content\n");
    assert.equal(lstatSync(d).uid, 0);
  },
);

round(
  "E: a symbolic link whose target text names another directory does not hide that directory's ACL",
  async (root, n) => {
    // /m: root's, with an administrator's ACL for uid 65534, declared 0755 root: the sync
    // must remove it before /m/secret is created. /z/u: the user's, holding an unchanged
    // file that they swap for a link to "/proc/self/fd/4/.", the ACL check's name of /m.
    const m = join(root, "m");
    mkdirSync(m);
    spawnSync("setfacl", ["-m", "u:65534:rx,d:u:65534:rx", m]);
    const u = join(root, "z/u");
    mkdirSync(u, { recursive: true });
    const names = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"];
    for (const name of names) writeFileSync(join(u, name), "unchanged\n");
    chownSync(u, NOBODY, NOBODY);
    const user = await attacker(SWAP, [u, "/proc/self/fd/4/.", ...names]);
    let result;
    try {
      result = sync(root, [
        { path: "/" },
        { path: "/m", mode: 0o755 },
        { path: "/m/secret", content: `SECRET E ${n}\n`, mode: 0o640 },
        { path: "/z" },
        { path: "/z/u", mode: 0o755, user: NOBODY, group: NOBODY },
        ...names.map((name) => ({ path: `/z/u/${name}`, content: "unchanged\n", mode: 0o644 })),
      ]);
    } finally {
      await user.stop();
    }
    // The user's swaps in their own directory may fail the sync before any change
    // (an entry vanished while it was compared); then nothing was written.
    if (result.error !== null) {
      assert.match(result.error, /^"\/z\/u\/f\d": /);
      assert.deepEqual(readAsNobody([join(m, "secret")]), ["ENOENT"]);
      return;
    }
    assert.deepEqual(extendedAcl(m), [], "/m lost the ACL");
    assert.deepEqual(readAsNobody([join(m, "secret")]), ["EACCES"]);
  },
);
