// SPEC 5.1: the one decision whether a changed file's diff is withheld, and
// what the reports print for a withheld diff.

import assert from "node:assert/strict";
import { test } from "node:test";
import { hostLines } from "../../src/report/human.ts";
import { jsonReport } from "../../src/report/json.ts";
import { diffHidden as decide, type Declared, type DiffSides } from "../../src/session/result.ts";
import { changed, host, info } from "../report/fixtures.ts";

function sides(oldMode: number, newMode: number, oldText: string, newText: string): DiffSides {
  return {
    created: false,
    contentChanged: true,
    old: info("file", oldMode, "root", 0),
    new: info("file", newMode, "root", 0),
    oldContent: Buffer.from(oldText),
    newContent: Buffer.from(newText),
  };
}

/** The decision where the workstation declared what the host reports (an honest host). */
function diffHidden(f: DiffSides, secrets: readonly string[], declared?: Partial<Declared>) {
  return decide(f, { mode: f.new.mode, readSecret: false, ...declared }, secrets);
}

test("a diff is withheld for a mode without read permission for others, old or new", () => {
  assert.equal(diffHidden(sides(0o640, 0o640, "a", "b"), []), "mode");
  assert.equal(diffHidden(sides(0o600, 0o644, "a", "b"), []), "mode", "the old mode counts");
  assert.equal(diffHidden(sides(0o644, 0o600, "a", "b"), []), "mode", "the new mode counts");
  assert.equal(diffHidden(sides(0o4750, 0o4755, "a", "b"), []), "mode");
  assert.equal(diffHidden(sides(0o644, 0o755, "a", "b"), []), null);
});

test("a diff is withheld when the old or new content contains a secret value", () => {
  const secrets = ["s3cr3t-token", "hunter2"];
  assert.equal(diffHidden(sides(0o644, 0o644, "x", "password=hunter2\n"), secrets), "secret");
  assert.equal(diffHidden(sides(0o644, 0o644, "k=s3cr3t-token\n", "k=\n"), secrets), "secret");
  assert.equal(diffHidden(sides(0o644, 0o644, "a", "b"), secrets), null);
  assert.equal(
    diffHidden(sides(0o644, 0o644, "a", "b"), [""]),
    null,
    "an empty value is no secret",
  );
  assert.equal(diffHidden(sides(0o600, 0o644, "x", "hunter2"), secrets), "mode", "both: mode");
  const tooLarge = { ...sides(0o644, 0o644, "", "hunter2"), oldContent: null };
  assert.equal(diffHidden(tooLarge, secrets), "secret", "the new side alone decides too");
});

test("the declared new mode decides, whatever mode the host reports", () => {
  // A lying host reports 0644 for a file the configuration declares 0600.
  assert.equal(diffHidden(sides(0o644, 0o644, "a", "b"), [], { mode: 0o600 }), "mode");
  assert.equal(diffHidden(sides(0o644, 0o644, "a", "b"), [], { mode: 0o640 }), "mode");
  // The host's word can only withhold more.
  assert.equal(diffHidden(sides(0o644, 0o600, "a", "b"), [], { mode: 0o644 }), "mode");
  assert.equal(diffHidden(sides(0o644, 0o644, "a", "b"), [], { mode: 0o644 }), null);
});

test("a diff is withheld when the template read a secret, whatever the content shows", () => {
  // base64 of a secret: no substring search finds it.
  const encoded = Buffer.from("hunter2").toString("base64");
  assert.equal(diffHidden(sides(0o644, 0o644, "x", encoded), ["hunter2"]), null);
  assert.equal(
    diffHidden(sides(0o644, 0o644, "x", encoded), ["hunter2"], { readSecret: true }),
    "secret",
  );
  assert.equal(
    diffHidden(sides(0o644, 0o644, "x", "y"), [], { mode: 0o600, readSecret: true }),
    "mode",
    "both: mode",
  );
  const created = { ...sides(0o644, 0o644, "", "a"), created: true, old: null };
  assert.equal(diffHidden(created, [], { readSecret: true }), null, "a new file has no diff");
});

test("nothing is withheld where there is no diff: new files, metadata only, directories", () => {
  assert.equal(diffHidden({ ...sides(0o600, 0o600, "", "a"), created: true, old: null }, []), null);
  assert.equal(diffHidden({ ...sides(0o600, 0o600, "a", "a"), contentChanged: false }, []), null);
  const dir = { ...sides(0o700, 0o600, "", "a"), old: info("dir", 0o700, "root", 0) };
  assert.equal(diffHidden(dir, []), null);
});

test("the reports say why a diff is withheld and show no content", () => {
  const shadow = changed(null, "", {
    path: "/etc/shadow",
    old: info("file", 0o640, "root", 0),
    new: info("file", 0o640, "root", 0),
    newContent: null,
    diffHidden: "mode",
  });
  const env = changed(null, "", { path: "/etc/env", newContent: null, diffHidden: "secret" });
  const result = host({ files: [shadow, env] });
  assert.deepEqual(hostLines(result, { dryRun: false, color: false }), [
    "[web1] changed 2 file(s):",
    '[web1] "/etc/shadow": content',
    "   (diff withheld: the file is not readable by others)",
    '[web1] "/etc/env": content',
    "   (diff withheld: contains a secret)",
  ]);
  const json = JSON.parse(jsonReport({ dryRun: false, hosts: [result] })) as {
    hosts: { files: { diff: string | null; diff_hidden: string | null }[] }[];
  };
  assert.deepEqual(
    json.hosts[0].files.map((f) => [f.diff, f.diff_hidden]),
    [
      [null, "mode"],
      [null, "secret"],
    ],
  );
});
