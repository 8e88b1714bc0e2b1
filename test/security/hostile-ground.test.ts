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
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { syncFiles } from "../../src/remote/files.ts";
import {
  ACL_LOOP,
  OPEN_TEMPS,
  SWAP,
  VANISH,
  attacker,
  extendedAcl,
  readAsNobody,
} from "../helpers/attacker.ts";
import { requireProgramsForFile } from "../helpers/programs.ts";
import { removeDir, request, tempDir, type Spec } from "../remote/util.ts";

requireProgramsForFile({ setfacl: "acl", getfacl: "acl", python3: "python3" });

/**
 * Rounds per scenario: enough that a run against d9feca8 fails with a chance above 99 %,
 * from how often each leaked or failed there with these attackers (F 20 of 20, C 19 of
 * 20, B 7 of 16, B2 8 of 16, B3 4 of 10, E 11 of 20).
 */
const ROUNDS = { F: 4, C: 4, B: 16, B2: 16, B3: 10, E: 10 };
const NOBODY = 65534;

function sync(root: string, specs: Spec[]): ReturnType<typeof syncFiles> {
  const { files, data } = request(specs);
  return syncFiles({ root, files, data, apply: true });
}

/** Runs `body` in `rounds` fresh roots; fails naming how many rounds failed, and the first failure. */
function round(rounds: number, name: string, body: (root: string, n: number) => Promise<void>) {
  test(name, async () => {
    const failed: string[] = [];
    for (let n = 0; n < rounds; n++) {
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
    assert.equal(failed.length, 0, `${failed.length} of ${rounds} rounds failed; ${failed[0]}`);
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
  ROUNDS.F,
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
  ROUNDS.C,
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
  ROUNDS.B,
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
  ROUNDS.B2,
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
  ROUNDS.B3,
  "B3: entries that vanish and come back while the helper looks below a directory it takes over do not stop the takeover",
  async (root) => {
    // Found in a full suite run (B2 failed 2 of 20 rounds with '"/d/keep": open: ENOENT'):
    // the first look, below a directory the sync is about to take over, failed the sync on
    // an entry the user had renamed away. The user could keep a takeover from ever
    // happening; only the look after the takeover may decide there.
    const d = takenOver(root);
    const names = ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7"];
    for (const name of names) writeFileSync(join(d, name), "unchanged\n");
    const user = await attacker(VANISH, [d, ...names]);
    let result;
    try {
      result = sync(root, [
        { path: "/" },
        { path: "/d", mode: 0o750 },
        ...names.map((name) => ({ path: `/d/${name}`, content: "unchanged\n", mode: 0o644 })),
      ]);
    } finally {
      await user.stop();
    }
    assert.equal(result.error, null);
    assert.equal(lstatSync(d).uid, 0);
    for (const name of names) {
      const st = lstatSync(join(d, name));
      assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [0, 0, 0o644], name);
      assert.equal(readFileSync(join(d, name), "utf8"), "unchanged\n");
    }
  },
);

round(
  ROUNDS.E,
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
