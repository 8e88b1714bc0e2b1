// The command line itself: help, version, usage errors, check, dry-run and fixperms.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { showStack } from "../../src/cli/main.ts";
import { REPO, safcm, tempDir, writeTree } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir();
after(cleanup);

describe("the command line", { concurrency: true }, () => {
  test("version, --version and -V print the package version", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
    for (const arg of ["version", "--version", "-V"]) {
      const r = await safcm([arg]);
      assert.equal(r.code, 0, arg);
      assert.equal(r.stdout, `safcm ${pkg.version}\n`, arg);
    }
  });

  test("help lists the commands; each command has its help; help for an unknown command is exit 2", async () => {
    const all = await safcm(["help"]);
    assert.equal(all.code, 0);
    const commands = ["sync", "check", "fixperms", "version", "help", "completion", "runtime"];
    for (const c of commands) {
      assert.match(all.stdout, new RegExp(`safcm ${c}`));
      const one = await safcm(["help", c]);
      assert.equal(one.code, 0, c);
      assert.match(one.stdout, new RegExp(`^usage: safcm ${c}`), c);
    }
    assert.match(all.stdout, /safcm runtime fetch \[x64\|arm64\]/);
    const sync = await safcm(["help", "sync"]);
    for (const o of [
      "--dry-run",
      "--no-dry-run",
      "--jobs",
      "--batch N|P%",
      "--max-fail N|P%",
      "--json",
      "--color",
      "--log-level",
      "-C, --dir DIR",
    ])
      assert.ok(sync.stdout.includes(o), o);
    const dashH = await safcm(["sync", "--help"]);
    assert.equal(dashH.code, 0);
    assert.equal(dashH.stdout, sync.stdout, "safcm sync --help is safcm help sync");
    const bad = await safcm(["help", "frobnicate"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command "frobnicate"/);
  });

  const usage: [string[], RegExp][] = [
    [["frobnicate"], /unknown command "frobnicate"/],
    [["sync"], /no host or group given/],
    [["sync", "--jobs", "0", "x"], /invalid --jobs "0"/],
    [["sync", "--log-level", "loud", "x"], /invalid log level "loud"/],
    [
      ["sync", "--batch", "0", "x"],
      /^safcm: invalid --batch "0", expected a number of hosts \(at least 1\) or a percentage \(1% to 100%\) \(see "safcm help sync"\)\n$/,
    ],
    [["sync", "--batch", "0%", "x"], /invalid --batch "0%"/],
    [["sync", "--batch", "101%", "x"], /invalid --batch "101%"/],
    [["sync", "--batch", "1.5", "x"], /invalid --batch "1.5"/],
    [["sync", "--batch=", "x"], /invalid --batch ""/],
    [["sync", "--batch", "2", "--max-fail", "-1", "x"], /invalid --max-fail "-1"/],
    [["sync", "--batch", "2", "--max-fail", "x%", "x"], /invalid --max-fail "x%"/],
    [
      ["sync", "--max-fail", "1", "x"],
      /^safcm: --max-fail applies only to a rollout in batches: give --batch too \(see "safcm help sync"\)\n$/,
    ],
    [["check", "--batch", "2"], /option --batch is not valid for "safcm check"/],
    [["sync", "--color", "pink", "x"], /invalid --color "pink"/],
    [["fixperms", "extra"], /fixperms takes no arguments/],
    [["version", "extra"], /"safcm version" takes no arguments/],
    // safcm's own words and a pointer to the command's help, not Node's parseArgs text
    [
      ["sync", "--check", "x"],
      /^safcm: unknown option "--check" for "safcm sync" \(see "safcm help sync"\)\n$/,
    ],
    [
      ["sync", "-x", "x"],
      /^safcm: unknown option "-x" for "safcm sync" \(see "safcm help sync"\)\n$/,
    ],
    [
      ["check", "--json"],
      /^safcm: option --json is not valid for "safcm check" \(see "safcm help check"\)\n$/,
    ],
    [["check", "-n"], /option -n\/--dry-run is not valid for "safcm check"/],
    [
      ["sync", "x", "-j"],
      /^safcm: option -j\/--jobs needs a value: -j N \(see "safcm help sync"\)\n$/,
    ],
    [["sync", "--json=yes", "x"], /option --json takes no value \(see "safcm help sync"\)/],
    [["completion"], /expected one of bash, zsh, fish \(see "safcm help completion"\)/],
    // run outside a configuration directory: say where safcm looked and how to point it elsewhere
    [
      ["sync", "-n", "all"],
      /^safcm: no hosts\.yaml in \/.*: safcm works on a configuration directory with a hosts\.yaml \(run it there, or name the directory with -C DIR\)\n$/,
    ],
  ];
  for (const [args, expected] of usage) {
    test(`usage error: safcm ${args.join(" ")} is exit 2 with a message, no stack trace`, async () => {
      const r = await safcm(args, { cwd: dir });
      assert.equal(r.code, 2);
      assert.match(r.stderr, expected);
      assert.doesNotMatch(r.stderr, /\n\s+at |ERR_PARSE_ARGS|as in '--/);
      assert.equal(r.stdout, "");
    });
  }

  test("fixperms on a missing directory and an absurd SAFCM_HELPER_TIMEOUT are exit 2 with a message", async () => {
    const missing = await safcm(["fixperms", "-C", join(dir, "no-such-dir")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot fix permissions: ENOENT/);
    for (const value of ["Infinity", "0", "soon", "99999999"]) {
      const r = await safcm(["sync", "-C", dir, "x"], { env: { SAFCM_HELPER_TIMEOUT: value } });
      assert.equal(r.code, 2, value);
      assert.match(r.stderr, /invalid SAFCM_HELPER_TIMEOUT/);
    }
  });

  test("check builds every host and lists every error with exit 2; 0 when all build", async () => {
    const conf = join(dir, "check");
    writeTree(conf, {
      "hosts.yaml": "- name: a\n- name: b\n",
      "groups.yaml": "g1: [a, b]\ng2: [b]\n",
      "g1/files/x": "1\n",
      "g2/files/x": "2\n",
      "a/files/t": "{{ nosuchvar }}\n",
      "a/templates.yaml": "- /t\n",
    });
    const r = await safcm(["check", "-C", conf]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /host "a": .*a\/files\/t.*nosuchvar/);
    assert.match(r.stderr, /host "b": .*g1.*g2|host "b": .*g2.*g1/);
    assert.equal(r.stdout, "2 host(s) checked: 0 warning(s), 2 error(s)\n");
    const onlyB = await safcm(["check", "-C", conf, "g2"]);
    assert.equal(onlyB.code, 2);
    assert.doesNotMatch(onlyB.stderr, /host "a"/);
    assert.equal(onlyB.stdout, "1 host(s) checked: 0 warning(s), 1 error(s)\n");
    writeTree(conf, { "config.yaml": "group_order: [g1, g2]\n", "a/files/t": "{{ host }}\n" });
    const ok = await safcm(["check", "-C", conf]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "2 host(s) checked: 0 warning(s), 0 error(s)\n");
    assert.equal(ok.stderr, "");
    assert.equal(
      (await safcm(["check", "-C", conf, "-l", "error"])).stdout,
      "",
      "-l error: no summary",
    );
  });

  test("check: mistakes found before any host is built are listed and counted too", async () => {
    const conf = join(dir, "check-broken");
    writeTree(conf, {
      "hosts.yaml": "- name: a\n  colour: red\n",
      "groups.yaml": "g1: [a, nobody]\n",
    });
    const r = await safcm(["check", "-C", conf]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /hosts\.yaml:2:3: .*colour/);
    assert.match(r.stderr, /groups\.yaml:.*nobody/);
    assert.equal(r.stdout, "0 host(s) checked: 0 warning(s), 2 error(s)\n");
    const unknown = await safcm(["check", "-C", join(dir, "check"), "nosuchhost"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown host or group "nosuchhost"/);
    assert.equal(unknown.stdout, "0 host(s) checked: 0 warning(s), 1 error(s)\n");
  });

  // Issue 19 item 9: before, a fresh clone's ./bin/safcm failed with Node.js's "Cannot find
  // module '../dist/compile-cache.cjs'" and its stack.
  test("a checkout without the set-up (no dist/) says in one sentence to run npm ci first", () => {
    const fresh = join(dir, "fresh-clone");
    mkdirSync(join(fresh, "bin"), { recursive: true });
    for (const f of ["safcm", "package.json"]) {
      copyFileSync(join(REPO, "bin", f), join(fresh, "bin", f));
    }
    const r = spawnSync(process.execPath, [join(fresh, "bin", "safcm"), "version"], {
      encoding: "utf8",
    });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      `safcm: not built yet: run "npm ci" (or ./scripts/setup.sh) in ${fresh} first\n`,
    );
  });

  test("check -l verbose names the group whose absent.yaml won over another group's copy", async () => {
    const conf = join(dir, "check-absent");
    writeTree(conf, {
      "hosts.yaml": "- name: a\n",
      "all/files/etc/old.conf": "old\n",
      "all/triggers.yaml": "/etc/old.conf: [touch fired]\n",
      "a/absent.yaml": "- /etc/old.conf\n",
    });
    const r = await safcm(["check", "-C", conf, "-l", "verbose"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\[a\] "\/etc\/old\.conf": absent from "a", triggers from "all"$/m);
  });

  test("check -l verbose lists per host the paths whose properties came from several groups, and the kept directories", async () => {
    const conf = join(dir, "check-origins");
    writeTree(conf, {
      "hosts.yaml": "- name: a\n- name: b\n",
      "all/files/etc/repro-dir": { dir: true },
      "all/permissions.yaml": "/etc/repro-dir: 0750 root adm\n",
      "all/triggers.yaml": "/etc/repro-dir: [touch fired]\n",
      "a/files/etc/repro-dir/c.conf": "c\n",
      "a/triggers.yaml": "/etc/repro-dir/c.conf: [touch c]\n",
    });
    const r = await safcm(["check", "-C", conf, "-l", "verbose"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      '[a] "/etc/repro-dir": type and content from "a", mode and owner from "all", triggers from "all"\n' +
        '[a] directories that keep their mode and owner where they exist (no permissions.yaml entry): "/", "/etc"\n' +
        '[b] directories that keep their mode and owner where they exist (no permissions.yaml entry): "/", "/etc"\n' +
        "2 host(s) checked: 0 warning(s), 0 error(s)\n",
    );
    const info = await safcm(["check", "-C", conf]);
    assert.equal(
      info.stdout,
      "2 host(s) checked: 0 warning(s), 0 error(s)\n",
      "info: no such lines",
    );
  });

  test("--no-dry-run overrides dry_run: true of config.yaml; the later of -n and --no-dry-run wins", async () => {
    const conf = join(dir, "dry");
    const root = join(dir, "dry-root");
    writeTree(conf, {
      "config.yaml": "dry_run: true\n",
      "hosts.yaml": `- name: a\n  connection: local\n  root: ${root}\n`,
      "all/files/etc/motd": "hello\n",
    });
    writeTree(root, { etc: { dir: true } });
    const motd = join(root, "etc/motd");
    for (const args of [[], ["--no-dry-run", "-n"]]) {
      const r = await safcm(["sync", "-C", conf, ...args, "a"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\(dry-run\)/, args.join(" "));
      assert.equal(existsSync(motd), false, args.join(" "));
    }
    const r = await safcm(["sync", "-C", conf, "-n", "--no-dry-run", "a"]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /dry-run/);
    assert.equal(readFileSync(motd, "utf8"), "hello\n");
  });

  test("an internal error shows its stack at log level debug (command line or config.yaml), never for a host named debug", () => {
    const conf = join(dir, "stack");
    writeTree(conf, { "config.yaml": "log_level: debug2\n" });
    const cases: [string[], boolean][] = [
      [["sync", "-l", "debug", "x"], true],
      [["sync", "--log-level=debug", "x"], true],
      [["sync", "--log-level", "debug2", "x"], true],
      [["sync", "-ldebug", "x"], true],
      [["sync", "debug"], false],
      [["sync", "-l", "info", "debug"], false],
      [["sync", "-C", conf, "x"], true],
      [["sync", "-C", conf, "-l", "info", "x"], false],
      [["sync", "-C", join(dir, "no-such-dir"), "x"], false],
    ];
    for (const [args, expected] of cases) assert.equal(showStack(args), expected, args.join(" "));
  });

  test("fixperms makes files/ trees syncable and sync then accepts them", async () => {
    const conf = join(dir, "fixperms");
    writeTree(conf, {
      "hosts.yaml": "- name: a\n  connection: local\n  root: /nonexistent\n",
      "all/files/etc/open": { content: "x", mode: 0o666 },
      "all/files/usr/bin/tool": { content: "x", mode: 0o775 },
      "all/files/etc/wide": { dir: true, mode: 0o777 },
    });
    const before = await safcm(["check", "-C", conf]);
    assert.equal(before.code, 2);
    assert.match(before.stderr, /writable by group or others.*safcm fixperms/);
    const r = await safcm(["fixperms", "-C", conf]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^all\/files\/etc\/open: 0666 -> 0644$/m);
    const mode = (p: string) => lstatSync(join(conf, p)).mode & 0o7777;
    assert.equal(mode("all/files/etc/open"), 0o644);
    assert.equal(mode("all/files/usr/bin/tool"), 0o755);
    assert.equal(mode("all/files/etc/wide"), 0o755);
    assert.equal((await safcm(["check", "-C", conf])).code, 0);
  });
});
