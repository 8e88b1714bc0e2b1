// End-to-end: the real CLI (bin/safcm) syncs files to temporary roots over
// the local connection (a real helper child process, the real file system).

import assert from "node:assert/strict";
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { JsonReport } from "../../src/report/json-types.ts";
import { safcm, snapshot, tempDir, writeTree, type Node } from "../helpers/tree.ts";

interface Fixture {
  conf: string;
  root: string;
  sync: (...args: string[]) => ReturnType<typeof safcm>;
  json: (...args: string[]) => Promise<JsonReport>;
}

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

/** A configuration directory with one local host "h1" whose root is a fresh directory. */
function fixture(tree: Record<string, Node>, hosts?: string): Fixture {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const conf = join(dir, "conf");
  const root = join(dir, "root");
  mkdirSync(root, { mode: 0o755 });
  writeTree(conf, {
    "hosts.yaml": hosts ?? `- name: h1\n  connection: local\n  root: ${root}\n`,
    ...tree,
  });
  const sync = (...args: string[]) => safcm(["sync", "-C", conf, ...args]);
  const json = async (...args: string[]) => {
    const r = await sync("--json", ...args);
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as JsonReport;
  };
  return { conf, root, sync, json };
}

const paths = (report: JsonReport) => report.hosts[0].files.map((f) => f.path);

describe("sync over the local connection", { concurrency: true }, () => {
  test("creates files and directories, then a second run changes and reports nothing", async () => {
    const f = fixture({
      "all/files/etc/motd": "hello\n",
      "all/files/etc/app/conf": { content: "x=1\n", mode: 0o600 },
      "all/permissions.yaml": "/etc/app/conf: 0600\n",
      "all/files/usr/bin/tool": { content: "#!/bin/sh\n", mode: 0o755 },
      "all/files/etc/link": { symlink: "motd" },
    });
    const first = await f.sync("h1");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /\[h1\] "\/etc\/motd": created, file, root\(0\) root\(0\), 0644/);
    assert.match(
      first.stdout,
      /\[h1\] "\/etc\/app\/conf": created, file, root\(0\) root\(0\), 0600/,
    );
    assert.match(first.stdout, /\[h1\] "\/etc\/link": created, symlink/);
    assert.equal(readFileSync(join(f.root, "etc/motd"), "utf8"), "hello\n");
    assert.equal(lstatSync(join(f.root, "usr/bin/tool")).mode & 0o7777, 0o755);
    assert.equal(lstatSync(join(f.root, "etc/app/conf")).mode & 0o7777, 0o600);
    assert.equal(readlinkSync(join(f.root, "etc/link")), "motd");

    const before = snapshot(f.root);
    const second = await f.json("h1");
    assert.deepEqual(paths(second), []);
    assert.equal(second.hosts[0].ok, true);
    assert.deepEqual(snapshot(f.root), before, "a no-op sync touches nothing");
    const human = await f.sync("h1");
    assert.equal(human.code, 0);
    assert.doesNotMatch(human.stdout, /\[h1\]/, "nothing reported for an unchanged host");
    assert.match(human.stdout, /1 host\(s\)/);
  });

  test("updates content with a unified diff, and leaves no temporary files", async () => {
    const f = fixture({ "all/files/etc/motd": "one\ntwo\nthree\n" });
    writeTree(f.root, { "etc/motd": "one\nTWO\nthree\n" });
    const r = await f.sync("h1");
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /\[h1\] "\/etc\/motd": content\n {3}@@ -1,3 \+1,3 @@\n {3} one\n {3}-TWO\n {3}\+two\n {3} three/,
    );
    assert.equal(readFileSync(join(f.root, "etc/motd"), "utf8"), "one\ntwo\nthree\n");
    assert.deepEqual(
      Object.keys(snapshot(f.root)).filter((p) => p.includes(".motd")),
      [],
      "no temporary file left behind",
    );
  });

  test("sets owners by number and by name, and 4-digit modes in every YAML spelling", async () => {
    const f = fixture({
      "all/files/a": "a",
      "all/files/b": "b",
      "all/files/c": "c",
      "all/files/d": "d",
      "all/files/e": "e",
      "all/files/shared": { dir: true },
      "all/permissions.yaml": [
        "/a: 4755 1234 2345",
        "/b: 2750 nobody nogroup",
        '/c: "0640"',
        "/d: 640",
        "/e: 0600 daemon 0",
        "/shared: 1777",
      ].join("\n"),
    });
    const r = await f.sync("h1");
    assert.equal(r.code, 0, r.stderr);
    const st = (p: string) => lstatSync(join(f.root, p));
    assert.deepEqual([st("a").mode & 0o7777, st("a").uid, st("a").gid], [0o4755, 1234, 2345]);
    assert.deepEqual([st("b").mode & 0o7777, st("b").uid, st("b").gid], [0o2750, 65534, 65534]);
    assert.equal(st("c").mode & 0o7777, 0o640);
    assert.equal(st("d").mode & 0o7777, 0o640);
    assert.deepEqual([st("e").mode & 0o7777, st("e").uid, st("e").gid], [0o600, 1, 0]);
    assert.equal(st("shared").mode & 0o7777, 0o1777);
    assert.match(r.stdout, /"\/b": created, file, nobody\(65534\) nogroup\(65534\), 2750/);
    const again = await f.json("h1");
    assert.deepEqual(paths(again), [], "owners and modes are stable on the next run");
  });

  test("a change of mode or owner alone is applied and keeps the content", async () => {
    const f = fixture({
      "all/files/etc/conf": "same\n",
      "all/permissions.yaml": "/etc/conf: 0600 12 34\n",
    });
    writeTree(f.root, { "etc/conf": "same\n" });
    const report = await f.json("h1");
    const change = report.hosts[0].files.find((x) => x.path === "/etc/conf");
    assert.equal(report.hosts[0].ok, true, report.hosts[0].error ?? "");
    assert.deepEqual(
      [change?.old?.mode, change?.new?.mode, change?.new?.uid, change?.diff],
      ["0644", "0600", 12, null],
    );
    const st = lstatSync(join(f.root, "etc/conf"));
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o600, 12, 34]);
    assert.equal(readFileSync(join(f.root, "etc/conf"), "utf8"), "same\n");
  });

  test("dry-run leaves the disk byte-for-byte untouched and reports what would change", async () => {
    const f = fixture({
      "all/files/etc/motd": "new\n",
      "all/files/etc/new/deep/file": "x",
      "all/files/var/link": { symlink: "/etc/motd" },
      "all/permissions.yaml": "/etc: 0750 12 34\n",
    });
    writeTree(f.root, { "etc/motd": "old\n", var: { dir: true, mode: 0o700 } });
    const before = snapshot(f.root);
    const report = await f.json("--dry-run", "h1");
    assert.deepEqual(snapshot(f.root), before);
    assert.equal(report.dry_run, true);
    assert.deepEqual(paths(report), [
      "/etc",
      "/etc/motd",
      "/etc/new",
      "/etc/new/deep",
      "/etc/new/deep/file",
      "/var/link",
    ]);
    // /var (0700, no permissions.yaml entry) exists: it keeps its mode (SPEC 3.5).
    const byPath = new Map(report.hosts[0].files.map((x) => [x.path, x]));
    assert.equal(
      byPath.get("/etc/new/deep/file")!.created,
      true,
      "child of a missing directory is created",
    );
    assert.match(byPath.get("/etc/motd")!.diff!, /-old\n\+new/);
    const human = await f.sync("-n", "h1");
    assert.match(human.stdout, /\[h1\] changed 6 file\(s\): \(dry-run\)/);
    assert.deepEqual(snapshot(f.root), before);
    // and the real run does exactly what the dry-run said
    const real = await f.json("h1");
    assert.deepEqual(paths(real), paths(report));
  });

  test("changes types both ways: file, symlink, directory", async () => {
    const f = fixture({
      "all/files/f2l": { symlink: "target" },
      "all/files/l2f": "now a file\n",
      "all/files/f2d": { dir: true },
      "all/files/d2f": "was a dir\n",
      "all/files/l2d": { dir: true },
    });
    mkdirSync(join(f.root, "outside"));
    writeTree(f.root, {
      f2l: "file\n",
      l2f: { symlink: "somewhere" },
      f2d: "file\n",
      d2f: { dir: true },
      l2d: { symlink: "outside" },
    });
    const report = await f.json("h1");
    assert.equal(report.hosts[0].ok, true, report.hosts[0].error ?? "");
    const types = Object.fromEntries(
      report.hosts[0].files.map((x) => [x.path, [x.old?.type, x.new?.type]]),
    );
    assert.deepEqual(types, {
      "/d2f": ["dir", "file"],
      "/f2d": ["file", "dir"],
      "/f2l": ["file", "symlink"],
      "/l2d": ["symlink", "dir"],
      "/l2f": ["symlink", "file"],
    });
    assert.equal(readlinkSync(join(f.root, "f2l")), "target");
    assert.equal(readFileSync(join(f.root, "l2f"), "utf8"), "now a file\n");
    assert.ok(lstatSync(join(f.root, "f2d")).isDirectory());
    assert.ok(lstatSync(join(f.root, "l2d")).isDirectory());
    assert.ok(lstatSync(join(f.root, "outside")).isDirectory(), "the link's target is untouched");
  });

  test("never replaces a non-empty directory: the host fails with exit 1 and the data stays", async () => {
    const f = fixture({ "all/files/data": "file\n" });
    writeTree(f.root, { "data/precious": "keep me\n" });
    const r = await f.sync("h1");
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, /"\/data".*will not replace non-empty directory/);
    assert.equal(readFileSync(join(f.root, "data/precious"), "utf8"), "keep me\n");
  });

  test("shows binary content as sizes in text and JSON reports", async () => {
    const f = fixture({
      "all/files/bin": Buffer.from([0, 1, 2, 3, 255]),
      "all/files/half": "text\n",
    });
    writeTree(f.root, { bin: Buffer.from([0, 9]), half: Buffer.from([0, 1, 2]) });
    const report = await f.json("-n", "h1");
    const diffs = Object.fromEntries(report.hosts[0].files.map((x) => [x.path, x.diff]));
    assert.equal(diffs["/bin"], "<binary content, 2 bytes> -> <binary content, 5 bytes>");
    assert.match(diffs["/half"]!, /<binary content, 3 bytes>/);
    assert.match(diffs["/half"]!, /\+text/);
  });

  test("a symlink planted where a managed directory belongs is replaced, never followed", async () => {
    const f = fixture({ "all/files/srv/www/index.html": "hello\n" });
    const { dir: victim, cleanup } = tempDir();
    cleanups.push(cleanup);
    mkdirSync(join(f.root, "srv"));
    writeTree(f.root, { "srv/www": { symlink: victim } });
    // /srv/www is a managed directory, so the link is replaced by a directory...
    const ok = await f.json("h1");
    assert.equal(ok.hosts[0].ok, true);
    assert.ok(lstatSync(join(f.root, "srv/www")).isDirectory());
    assert.deepEqual(Object.keys(snapshot(victim)), ["."], "nothing was written through the link");
  });

  test("applies group priority: group_order, the host's own group above all, all below all", async () => {
    const f = fixture({
      "groups.yaml": "low: [h1]\nhigh: [h1]\n",
      "config.yaml": "group_order: [low, high]\n",
      "all/files/a": "all\n",
      "low/files/a": "low\n",
      "low/files/b": "low\n",
      "high/files/b": "high\n",
      "h1/files/b": "host\n",
      "high/files/c": "high\n",
    });
    const r = await f.sync("h1");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(readFileSync(join(f.root, "a"), "utf8"), "low\n");
    assert.equal(readFileSync(join(f.root, "b"), "utf8"), "host\n");
    assert.equal(readFileSync(join(f.root, "c"), "utf8"), "high\n");
  });

  test("an unordered conflict fails the host (exit 1) naming both groups and the path", async () => {
    const f = fixture({
      "groups.yaml": "one: [h1]\ntwo: [h1]\n",
      "one/files/etc/x": "1\n",
      "two/files/etc/x": "2\n",
    });
    const error =
      'conflict: groups "one" and "two" set the content of "/etc/x" differently; ' +
      "order the two groups with group_order in config.yaml";
    const r = await f.sync("h1");
    assert.equal(r.code, 1);
    assert.deepEqual(
      r.stdout.split("\n").filter((l) => l.startsWith("[h1]")),
      [`[h1] error: ${error}`],
    );
    assert.match(r.stdout, /^1 host\(s\): 0 changed, 0 unchanged, 1 failed$/m);
    const report = await f.json("h1");
    assert.deepEqual(
      { ok: report.hosts[0].ok, error: report.hosts[0].error, files: report.hosts[0].files },
      { ok: false, error, files: [] },
    );
    assert.deepEqual(Object.keys(snapshot(f.root)), ["."], "nothing was changed");
  });

  test("renders templates per host; a template error names group, file and line", async () => {
    const good = fixture({
      "groups.yaml": "web: [h1]\n",
      "all/files/etc/motd": "host {{ host }}{% if groups.web %} web{% endif %}\n",
      "all/templates.yaml": "- /etc/motd\n",
    });
    assert.equal((await good.sync("h1")).code, 0);
    assert.equal(readFileSync(join(good.root, "etc/motd"), "utf8"), "host h1 web\n");

    const bad = fixture({
      "groups.yaml": "web: [h1]\n",
      "all/files/etc/motd": "line one\n{% if groups.webz %}x{% endif %}\n",
      "all/templates.yaml": "- /etc/motd\n",
    });
    const r = await bad.sync("h1");
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /group "all" at all\/files\/etc\/motd:2: undefined variable: groups\.webz/,
    );
    const c = await safcm(["check", "-C", bad.conf]);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /etc\/motd/);
  });

  test("exit status 2 for a configuration error, with file and line, nothing contacted, stdout empty", async () => {
    const f = fixture({ "config.yaml": "dry_run: false\nbogus: 1\n", "all/files/x": "x" });
    const r = await f.sync("--json", "h1");
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /config\.yaml:2:1: .*bogus/);
    assert.deepEqual(Object.keys(snapshot(f.root)), ["."]);
    const unknown = await f.sync("nosuchhost");
    assert.equal(unknown.code, 2);
  });

  test("a group whose members are detected syncs exactly the hosts found in it", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const [root1, root2] = [join(dir, "r1"), join(dir, "r2")];
    mkdirSync(root1);
    mkdirSync(root2);
    // h2's "Node.js" sets MARK, which its detect_groups command turns into detected_marked.
    const wrapper = join(dir, "marked-node");
    writeFileSync(wrapper, `#!/bin/sh\nMARK=1 exec '${process.execPath}' "$@"\n`, { mode: 0o755 });
    const f = fixture(
      {
        "config.yaml": `detect_groups: ['[ -n "$MARK" ] && echo marked || true']\n`,
        "groups.yaml": "marked: [detected_marked]\n",
        "marked/files/m": "marked\n",
      },
      `- name: h1\n  connection: local\n  root: ${root1}\n- name: h2\n  connection: local\n  root: ${root2}\n  node: ${wrapper}\n`,
    );
    const r = await f.sync("marked");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^1 host\(s\): 1 changed/m);
    assert.doesNotMatch(r.stdout, /\[h1\]/);
    assert.equal(readFileSync(join(root2, "m"), "utf8"), "marked\n");
    assert.deepEqual(readdirSync(root1), [], "h1 is not in the group: nothing synced");
    const byDetected = await f.json("detected_marked");
    assert.deepEqual(
      byDetected.hosts.map((h) => h.name),
      ["h2"],
    );
  });

  test("one failing host does not stop the others; exit status 1", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const rootA = join(dir, "a");
    mkdirSync(rootA);
    const f = fixture(
      { "all/files/x": "x\n" },
      `- name: good\n  connection: local\n  root: ${rootA}\n- name: bad\n  connection: local\n  root: ${join(dir, "missing")}\n`,
    );
    const report = await f.json("all");
    const byName = Object.fromEntries(report.hosts.map((h) => [h.name, h]));
    assert.equal(byName.good.ok, true);
    assert.equal(byName.bad.ok, false);
    assert.match(byName.bad.error!, /missing/);
    assert.equal(readFileSync(join(rootA, "x"), "utf8"), "x\n");
    const human = await f.sync("all");
    assert.equal(human.code, 1);
    assert.match(human.stdout, /2 host\(s\): .*1 failed/);
  });

  // Issue 19 item 1 (SPEC 3.6): before, the detected group's copy of /etc/repro-dir (there
  // only because of the file below it) took every property: 0755 root root, no trigger.
  test("all's mode, owner and trigger of a directory hold when a detected group has a file below it", async () => {
    const f = fixture({
      "config.yaml": "detect_groups: ['echo debian']\n",
      "all/files/etc/repro-dir": { dir: true },
      "all/permissions.yaml": "/etc/repro-dir: 0750 root adm\n",
      "all/triggers.yaml": '/etc/repro-dir:\n  - echo "fired $SAFCM_TRIGGER" >> log\n',
      "detected_debian/files/etc/repro-dir/c.conf": "c\n",
    });
    // An existing directory of the wrong mode and group, as a package might have left it.
    mkdirSync(join(f.root, "etc/repro-dir"), { recursive: true, mode: 0o755 });
    const first = await f.json("h1");
    assert.equal(first.hosts[0].ok, true, first.hosts[0].error ?? "");
    assert.ok(first.hosts[0].groups.includes("detected_debian"));
    const st = lstatSync(join(f.root, "etc/repro-dir"));
    const adm = 4; // Debian's adm group
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o750, 0, adm]);
    assert.equal(readFileSync(join(f.root, "etc/repro-dir/c.conf"), "utf8"), "c\n");
    assert.equal(readFileSync(join(f.root, "log"), "utf8"), "fired /etc/repro-dir\n");
    const second = await f.json("h1");
    assert.deepEqual(paths(second), [], "converged: nothing left to change");
    assert.equal(readFileSync(join(f.root, "log"), "utf8"), "fired /etc/repro-dir\n");
    // A change below the directory fires all's trigger, though only detected_debian has the file.
    writeFileSync(join(f.root, "etc/repro-dir/c.conf"), "tampered\n");
    const third = await f.json("h1");
    assert.deepEqual(paths(third), ["/etc/repro-dir/c.conf"]);
    assert.equal(
      readFileSync(join(f.root, "log"), "utf8"),
      "fired /etc/repro-dir\nfired /etc/repro-dir\n",
    );
  });

  test("an unknown user on the host fails the host naming path and user; nothing is changed", async () => {
    const f = fixture({
      "all/files/dir/file": "x\n",
      "all/permissions.yaml": "/dir/file: 0644 nosuchuser nogroup\n",
    });
    const r = await f.sync("h1");
    assert.equal(r.code, 1);
    assert.match(r.stdout, /"\/dir\/file".*nosuchuser/);
    // Found while checking, before any change (SPEC 5 step 4): not even /dir is created.
    assert.deepEqual(Object.keys(snapshot(f.root)), ["."], "nothing created, no temporary file");
  });
});
