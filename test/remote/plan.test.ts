// Properties of the file engine's pure planner (src/remote/plan.ts), for
// random trees as they are on the host (before) and as the request wants
// them (after):
// (a) what takes access away from a directory comes before every action
//     below it, what grants access after every action below it, and while
//     its subtree is handled the directory is never more open than both
//     before and after (SPEC 6);
// (b) a plan with an error contains no change at all (SPEC 5 step 4).

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { FileEntry, FileType, OldFileType } from "../../src/protocol/messages.ts";
import { planFiles, type Action, type Plan } from "../../src/remote/plan.ts";
import { buildTree, type DirState, type Observation } from "../../src/remote/tree.ts";
import { parseIdFile, type UserDb } from "../../src/remote/users.ts";

const USERS: UserDb = {
  users: parseIdFile("root:x:0:0::/:\nalice:x:1000:1000::/:\nbob:x:1001:1001::/:\n"),
  groups: parseIdFile("root:x:0:\nalice:x:1000:\nbob:x:1001:\n"),
};
const SELF = { uid: 0, gid: 0 };

const owner = fc.constantFrom<string | number>(0, 1000, 1001, "alice", "bob");
const id = fc.constantFrom(0, 1000, 1001);
const mode = fc.integer({ min: 0, max: 0o7777 });

interface Case {
  entries: FileEntry[];
  observed: Map<string, Observation>;
  defer: boolean;
  canRemoveAcl: boolean;
  lookAgain?: boolean;
}

/** Random paths below "/" (every parent listed, as the local side sends them), with wanted and found states. */
const cases: fc.Arbitrary<Case> = fc
  .record({
    paths: fc.uniqueArray(
      fc
        .array(fc.constantFrom("a", "b", "a-b"), { minLength: 1, maxLength: 3 })
        .map((p) => p.join("/")),
      { maxLength: 12 },
    ),
    wanted: fc.array(
      fc.record({
        type: fc.constantFrom<FileType>("file", "dir", "symlink"),
        mode,
        user: owner,
        group: owner,
        unknown: fc.integer({ min: 0, max: 30 }),
      }),
      { minLength: 40, maxLength: 40 },
    ),
    found: fc.array(
      fc.record({
        present: fc.boolean(),
        type: fc.constantFrom<OldFileType>("file", "dir", "dir", "symlink", "fifo"),
        mode,
        uid: id,
        gid: id,
        sameContent: fc.boolean(),
        acl: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
        empty: fc.boolean(),
      }),
      { minLength: 41, maxLength: 41 },
    ),
    rootWanted: fc.record({ mode, user: owner, group: owner }),
    defer: fc.boolean(),
    canRemoveAcl: fc.integer({ min: 0, max: 5 }).map((n) => n !== 0),
  })
  .map(({ paths, wanted, found, rootWanted, defer, canRemoveAcl }) => {
    const all = new Set<string>();
    for (const p of paths) {
      const parts = p.split("/");
      for (let i = 1; i <= parts.length; i++) all.add(`/${parts.slice(0, i).join("/")}`);
    }
    const sorted = [...all].sort();
    const hasChildren = (p: string) => sorted.some((q) => q.startsWith(`${p}/`));
    const entries: FileEntry[] = [{ path: "/", type: "dir", ...rootWanted }];
    sorted.forEach((path, i) => {
      const w = wanted[i];
      const type = hasChildren(path) ? "dir" : w.type;
      const entry: FileEntry = { path, type, mode: w.mode, user: w.user, group: w.group };
      // Now and then a name the host does not know.
      if (w.unknown === 0) entry.user = "nosuch";
      if (w.unknown === 1) entry.group = "nosuch";
      if (type === "symlink") entry.target = "t";
      entries.push(entry);
    });
    const observed = new Map<string, Observation>();
    const rootFound = found[40];
    observed.set("/", { ...rootFound, type: "dir", state: "present", oldContent: null });
    sorted.forEach((path, i) => {
      const f = found[i];
      const parentPath = path.slice(0, path.lastIndexOf("/")) || "/";
      const parent = observed.get(parentPath);
      // As the observer records them: below a missing or non-directory parent nothing is looked at.
      const parentIsDir = parent?.state === "present" && parent.type === "dir";
      if (!parentIsDir || !f.present) observed.set(path, { state: "absent" });
      else observed.set(path, { ...f, state: "present", oldContent: null });
    });
    return { entries, observed, defer, canRemoveAcl };
  });

/** Like fc.assert, but the failure names the broken assertion and the counterexample. */
function holds(property: fc.IProperty<[Case]>, numRuns: number): void {
  const out = fc.check(property, { numRuns });
  if (!out.failed) return;
  const error =
    out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
  assert.fail(`${error}\n(seed ${out.seed}) counterexample: ${fc.stringify(out.counterexample)}`);
}

function plan(c: Case): Plan {
  const { root, problems } = buildTree(c.entries);
  assert.deepEqual(problems, []);
  return planFiles({
    root,
    observed: c.observed,
    users: USERS,
    self: SELF,
    deferUnknownOwners: c.defer,
    canRemoveAcl: c.canRemoveAcl,
    lookAgain: c.lookAgain,
  });
}

const below = (dir: string, path: string): boolean =>
  path !== dir && (dir === "/" || path.startsWith(`${dir}/`));

/** What a principal may do with a directory in a state (ACLs aside): its permission bits; the owner everything. */
function perms(principal: string, s: DirState): Set<string> {
  const [kind, value] = principal.split(":") as [string, string];
  const n = Number(value);
  let bits = s.mode & 0o7;
  const extra: string[] = [];
  if (kind === "u" && s.uid === n) {
    // The owner may chmod it: everything.
    bits = 0o7;
    extra.push("chmod");
  } else if (kind === "g" && s.gid === n) bits = (s.mode >> 3) & 0o7;
  // No sticky bit means others' entries may be removed: access too.
  if ((s.mode & 0o1000) === 0) extra.push("unsticky");
  return new Set([...["r", "w", "x"].filter((_, i) => bits & (4 >> i)), ...extra]);
}

const PRINCIPALS = ["o:0", "u:1000", "u:1001", "g:1000", "g:1001"];

/** Whether no principal (the helper itself aside) may do more in `s` than in every one of `bounds`. */
function noMoreOpen(s: DirState, ...bounds: DirState[]): boolean {
  return PRINCIPALS.every((p) => {
    const have = perms(p, s);
    return bounds.every((b) => {
      const allowed = perms(p, b);
      return [...have].every((x) => allowed.has(x));
    });
  });
}

/** The states changeDir (src/remote/safe-fs.ts) passes through from `a` to `t`. */
function steps(a: DirState, t: DirState): DirState[] {
  if (a.uid === t.uid && a.gid === t.gid) return [t];
  const common = { ...a, mode: a.mode & t.mode };
  return [common, { ...common, uid: t.uid, gid: t.gid }, t];
}

test("(b) a plan with an error contains no action and no change", () => {
  let errors = 0;
  holds(
    fc.property(cases, (c) => {
      const p = plan(c);
      if (p.errors.length === 0) return;
      errors++;
      assert.deepEqual(p.actions, []);
      assert.deepEqual(p.changes, []);
      assert.deepEqual(p.oldData, []);
    }),
    400,
  );
  assert.ok(errors > 20, `only ${errors} plans with an error were generated`);
});

test("(a) access is taken away before a subtree and granted after it, never more open in between", () => {
  let checked = 0;
  holds(
    fc.property(cases, (c) => {
      const p = plan(c);
      const { actions } = p;
      actions.forEach((action, i) => {
        const later = actions.slice(i + 1);
        const earlier = actions.slice(0, i);
        if (action.op === "grant") {
          assert.ok(
            !later.some((a) => below(action.path, a.path)),
            `grant of ${action.path} precedes an action below it`,
          );
        }
        if (action.op === "restrict" || action.op === "unacl" || action.op === "mkdir") {
          assert.ok(
            !earlier.some((a) => below(action.path, a.path)),
            `${action.op} of ${action.path} follows an action below it`,
          );
        }
      });
      // Each existing directory: its states step by step.
      for (const entry of c.entries) {
        const obs = c.observed.get(entry.path);
        if (entry.type !== "dir" || obs?.state !== "present" || obs.type !== "dir") continue;
        const change = p.changes.find((ch) => ch.path === entry.path);
        const own = actions.filter((a) => a.path === entry.path);
        if (change === undefined) {
          assert.deepEqual(own, []);
          continue;
        }
        const before: DirState = { mode: obs.mode, uid: obs.uid, gid: obs.gid };
        const after: DirState = { mode: change.new.mode, uid: change.new.uid, gid: change.new.gid };
        let state = before;
        let phase: "before" | "subtree" | "after" = "before";
        for (const a of actions) {
          if (a.path === entry.path && (a.op === "restrict" || a.op === "grant")) {
            assert.notEqual(phase, "after", "one restrict, then one grant");
            for (const s of steps(state, a)) {
              assert.ok(
                noMoreOpen(s, a.op === "restrict" ? before : after),
                `${entry.path}: ${a.op} step ${JSON.stringify(s)} more open than ${a.op === "restrict" ? "before" : "after"}`,
              );
            }
            state = { mode: a.mode, uid: a.uid, gid: a.gid };
            phase = a.op === "grant" ? "after" : "subtree";
          } else if (below(entry.path, a.path)) {
            assert.ok(
              noMoreOpen(state, before, after),
              `${entry.path} is ${JSON.stringify(state)} while ${a.path} is synced; before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`,
            );
            checked++;
          }
        }
        assert.deepEqual(state, after, `${entry.path} ends in its declared state`);
      }
    }),
    400,
  );
  assert.ok(checked > 50, `only ${checked} subtree actions under a changing directory`);
});

test("an example: loosen a directory, tighten a secret in it", () => {
  const entries: FileEntry[] = [
    { path: "/", type: "dir", mode: 0o755, user: 0, group: 0 },
    { path: "/sec", type: "dir", mode: 0o755, user: 0, group: 0 },
    { path: "/sec/zz-secret", type: "file", mode: 0o600, user: 0, group: 0 },
  ];
  const present = (type: OldFileType, m: number): Observation => ({
    state: "present",
    type,
    mode: m,
    uid: 0,
    gid: 0,
    sameContent: false,
    acl: false,
    oldContent: Buffer.from("old secret"),
  });
  const p = plan({
    entries,
    observed: new Map([
      ["/", present("dir", 0o755)],
      ["/sec", present("dir", 0o700)],
      ["/sec/zz-secret", present("file", 0o644)],
    ]),
    defer: false,
    canRemoveAcl: true,
  });
  assert.deepEqual(
    p.actions.map((a: Action) => `${a.op} ${a.path}`),
    ["write /sec/zz-secret", "grant /sec"],
  );
  assert.equal(p.changes[1]?.old_data_offset, undefined, "the old secret is not sent for a diff");
});

test("below a directory taken over, an entry that could not be looked at is left to the look after the takeover", () => {
  // /d is uid 1000's and writable by them: a real run takes it over, then looks again.
  const entries: FileEntry[] = [
    { path: "/", type: "dir", mode: 0o755, user: 0, group: 0 },
    { path: "/d", type: "dir", mode: 0o750, user: 0, group: 0 },
    { path: "/d/keep", type: "file", mode: 0o644, user: 0, group: 0 },
    { path: "/e", type: "dir", mode: 0o755, user: 0, group: 0 },
    { path: "/e/other", type: "file", mode: 0o644, user: 0, group: 0 },
  ];
  const dir = (uid: number): Observation => ({
    state: "present",
    type: "dir",
    mode: 0o755,
    uid,
    gid: uid,
    sameContent: false,
    acl: false,
    oldContent: null,
  });
  const gone: Observation = { state: "error", message: "open: ENOENT: no such file or directory" };
  const observed = (other: Observation) =>
    new Map([
      ["/", dir(0)],
      ["/d", dir(1000)],
      ["/d/keep", gone],
      ["/e", dir(0)],
      ["/e/other", other],
    ]);
  const run = (lookAgain: boolean, other: Observation = { state: "absent" }) =>
    plan({ entries, observed: observed(other), defer: false, canRemoveAcl: true, lookAgain });
  const real = run(true);
  assert.deepEqual(real.errors, []);
  assert.deepEqual(
    real.takeovers.map((t) => t.path),
    ["/d"],
  );
  // A dry run takes nothing over: what it could not look at is an error.
  assert.deepEqual(run(false).errors, ['"/d/keep": open: ENOENT: no such file or directory']);
  // Elsewhere it stays an error in a real run too.
  assert.deepEqual(run(true, gone).errors, ['"/e/other": open: ENOENT: no such file or directory']);
});
