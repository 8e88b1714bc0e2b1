// Secrets (SPEC 3.5): `!env` and `!command` values of vars.yaml, through the
// real CLI over the local connection. The secret values must never appear on
// standard output or standard error, at any log level, human or JSON, in a
// sync, a dry-run, a failing command's output or an error; a !command runs
// once per run however many hosts use it, and not at all when no named host
// can be in its group.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { safcm, tempDir, writeTree, type Node, type Run } from "../helpers/tree.ts";

const ENV_SECRET = "env-secret-Q7x9";
const CMD_SECRET = "cmd-secret-Z3k8";
/** Printed by the failing !command, on both streams: it must not be shown either. */
const MARKER = "marker-output-K2p5";
const env = { SAFCM_TEST_TOKEN: ENV_SECRET };

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

/** YAML double-quoted scalar of `s`. */
const yq = (s: string): string => JSON.stringify(s);

/**
 * Hosts h1, h2, h3 in group web, whose vars.yaml holds both secrets, and host
 * lone in no group. The !command appends a line to `count` each time it runs,
 * and prints the secret without containing it (so the command's text, which
 * is not secret, does not give it away).
 */
function fixture(extra: Record<string, Node> = {}) {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const conf = join(dir, "conf");
  const count = join(dir, "count");
  const roots = ["h1", "h2", "h3", "lone"].map((h) => join(dir, `root-${h}`));
  roots.forEach((r) => mkdirSync(r, { mode: 0o755 }));
  const hosts = ["h1", "h2", "h3", "lone"]
    .map((h, i) => `- name: ${h}\n  connection: local\n  root: ${roots[i]}\n`)
    .join("");
  const command = `echo run >> ${count}; printf 'cmd-%s-Z3k8\\n' secret`;
  writeTree(conf, {
    "hosts.yaml": hosts,
    "groups.yaml": "web: [h1, h2, h3]\n",
    "web/vars.yaml": `token: !env SAFCM_TEST_TOKEN\napi: !command ${yq(command)}\nport: 8080\n`,
    "web/files/etc/app.conf": "token={{ vars.token }}\napi={{ vars.api }}\nport={{ vars.port }}\n",
    "web/templates.yaml": "- /etc/app.conf\n",
    "web/triggers.yaml": `/etc/app.conf:\n  - ${yq('cat "$SAFCM_ROOT/etc/app.conf"')}\n`,
    "web/commands.yaml": `- ${yq('echo "the token is $(head -n1 "$SAFCM_ROOT/etc/app.conf")"')}\n`,
    ...extra,
  });
  const runs = () => (existsSync(count) ? readFileSync(count, "utf8").split("\n").length - 1 : 0);
  return { conf, count, roots, runs };
}

function assertNoSecret(r: Run, what: string): void {
  for (const secret of [ENV_SECRET, CMD_SECRET, MARKER]) {
    assert.ok(!r.stdout.includes(secret), `${what}: stdout shows ${secret}:\n${r.stdout}`);
    assert.ok(!r.stderr.includes(secret), `${what}: stderr shows ${secret}:\n${r.stderr}`);
  }
}

describe("secrets through the real CLI", { concurrency: true }, () => {
  test("never shown at any log level, human or JSON, sync or dry-run; !command runs once per run", async () => {
    const f = fixture();
    const variants = [
      ["-n"],
      ["-n", "--json", "-l", "debug2"],
      [],
      ["-l", "debug2"],
      ["-l", "debug"],
      ["-l", "verbose"],
      ["-l", "error"],
      ["--json"],
      ["--json", "-l", "debug2"],
    ];
    let expectedRuns = 0;
    for (const args of variants) {
      const r = await safcm(["sync", "-C", f.conf, ...args, "web"], { env });
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assertNoSecret(r, `sync ${args.join(" ")}`);
      expectedRuns++;
      assert.equal(f.runs(), expectedRuns, "the !command runs once per run for three hosts");
      if (args.length === 0) {
        // The first real sync: the trigger and the command printed the secrets, redacted.
        assert.match(r.stdout, /token=\*{8}/);
        assert.match(r.stdout, /api=\*{8}/);
        assert.match(r.stdout, /the token is token=\*{8}/);
      }
      if (args.includes("--json") && args.includes("-n")) {
        const report = JSON.parse(r.stdout) as { hosts: { commands: { command: string }[] }[] };
        assert.equal(report.hosts.length, 3);
      }
    }
    // The hosts did get the real values.
    for (const root of f.roots.slice(0, 3)) {
      assert.equal(
        readFileSync(join(root, "etc/app.conf"), "utf8"),
        `token=${ENV_SECRET}\napi=${CMD_SECRET}\nport=8080\n`,
      );
    }
  });

  test("command and trigger output holding a secret is redacted in the JSON report", async () => {
    const f = fixture();
    const r = await safcm(["sync", "-C", f.conf, "--json", "h1"], { env });
    assert.equal(r.code, 0, r.stderr);
    assertNoSecret(r, "sync --json");
    const report = JSON.parse(r.stdout) as {
      hosts: { commands: { output: string | null }[] }[];
    };
    assert.deepEqual(
      report.hosts[0]?.commands.map((c) => c.output),
      ["token=********\napi=********\nport=8080\n", "the token is token=********\n"],
    );
  });

  test("secrets of all/ and of the host's own directory are resolved for it", async () => {
    const f = fixture({
      "all/vars.yaml": "shared: !env SAFCM_TEST_TOKEN\n",
      "lone/vars.yaml": `own: !command ${yq("printf own-secret-V5t2")}\n`,
      "lone/files/etc/lone.conf": "{{ vars.shared }} {{ vars.own }}\n",
      "lone/templates.yaml": "- /etc/lone.conf\n",
    });
    for (const command of [
      ["check", "-C", f.conf, "lone"],
      ["sync", "-C", f.conf, "lone"],
    ]) {
      const r = await safcm(command, { env });
      assert.equal(r.code, 0, `${command[0]}: ${r.stdout}${r.stderr}`);
      assertNoSecret(r, command[0] ?? "");
      assert.ok(!(r.stdout + r.stderr).includes("own-secret-V5t2"));
    }
    assert.equal(
      readFileSync(join(f.roots[3] ?? "", "etc/lone.conf"), "utf8"),
      `${ENV_SECRET} own-secret-V5t2\n`,
    );
  });

  test("a file whose old or new content holds a secret is reported without its diff", async () => {
    const f = fixture();
    const first = await safcm(["sync", "-C", f.conf, "h1"], { env });
    assert.equal(first.code, 0, first.stderr);
    // A new secret value changes the rendered file: old and new content both hold a secret.
    const newEnv = { SAFCM_TEST_TOKEN: "env-secret-N3w1" };
    const human = await safcm(["sync", "-C", f.conf, "-n", "-l", "debug2", "h1"], { env: newEnv });
    assert.equal(human.code, 0, human.stderr);
    assert.ok(!(human.stdout + human.stderr).includes("env-secret-N3w1"));
    assertNoSecret(human, "changed secret, dry-run");
    assert.match(
      human.stdout,
      /"\/etc\/app\.conf": content\n {3}\(diff withheld: contains a secret\)/,
    );
    const json = await safcm(["sync", "-C", f.conf, "--json", "h1"], { env: newEnv });
    assert.equal(json.code, 0, json.stderr);
    assert.ok(!(json.stdout + json.stderr).includes("env-secret-N3w1"));
    assertNoSecret(json, "changed secret, --json");
    const report = JSON.parse(json.stdout) as {
      hosts: { files: { path: string; diff: string | null; diff_hidden: string | null }[] }[];
    };
    const app = report.hosts[0]?.files.find((x) => x.path === "/etc/app.conf");
    assert.deepEqual(app && { diff: app.diff, diff_hidden: app.diff_hidden }, {
      diff: null,
      diff_hidden: "secret",
    });
  });

  test("a file whose template read a secret through a filter is reported without its diff", async () => {
    // SPEC 5.1: base64_encode, json (a quote in the value) and url_encode turn the secret
    // into text that no substring search finds; the template's read of it decides.
    const f = fixture({
      "web/files/etc/b64": "{{ vars.token | base64_encode }}\n",
      "web/files/etc/json": '{"token": {{ vars.token | json }}}\n',
      "web/files/etc/url":
        "{% assign t = vars.token %}{% for i in (1..2) %}{{ t | url_encode }}{% endfor %}\n",
      "web/files/etc/port": "{{ vars.port }} {{ vars.token | size }}\n",
      "web/templates.yaml": "- /etc/app.conf\n- /etc/b64\n- /etc/json\n- /etc/url\n- /etc/port\n",
    });
    const before = 'old"secret/ä+1';
    const after = 'new"secret/ü+22';
    const first = await safcm(["sync", "-C", f.conf, "h1"], { env: { SAFCM_TEST_TOKEN: before } });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const encodings = (s: string) => [
      Buffer.from(s).toString("base64"),
      JSON.stringify(s),
      encodeURIComponent(s),
      encodeURIComponent(s).replaceAll("%20", "+"),
    ];
    const newEnv = { SAFCM_TEST_TOKEN: after };
    const human = await safcm(["sync", "-C", f.conf, "-n", "-l", "debug2", "h1"], { env: newEnv });
    assert.equal(human.code, 0, human.stderr);
    for (const shown of [...encodings(before), ...encodings(after)]) {
      assert.ok(!(human.stdout + human.stderr).includes(shown), `${shown}:\n${human.stdout}`);
    }
    for (const path of ["b64", "json", "url", "port"]) {
      assert.match(
        human.stdout,
        new RegExp(`"/etc/${path}": content\n {3}\\(diff withheld: contains a secret\\)`),
      );
    }
    const json = await safcm(["sync", "-C", f.conf, "--json", "h1"], { env: newEnv });
    assert.equal(json.code, 0, json.stderr);
    for (const shown of [...encodings(before), ...encodings(after)]) {
      assert.ok(!(json.stdout + json.stderr).includes(shown), `${shown}:\n${json.stdout}`);
    }
    const report = JSON.parse(json.stdout) as {
      hosts: { files: { path: string; diff: string | null; diff_hidden: string | null }[] }[];
    };
    assert.deepEqual(
      report.hosts[0]?.files.map((x) => [x.path, x.diff, x.diff_hidden]),
      ["/etc/app.conf", "/etc/b64", "/etc/json", "/etc/port", "/etc/url"].map((p) => [
        p,
        null,
        "secret",
      ]),
    );
  });

  test("the local helper, its commands, triggers and detect_groups never see the workstation's environment", async () => {
    // SPEC 3.5: with connection: local they start with a clean environment, as over ssh.
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const out = (what: string) => join(dir, `env-${what}`);
    const f = fixture({
      "config.yaml": `detect_groups:\n  - ${yq(`env > ${out("detect")}`)}\n`,
      "web/triggers.yaml": `/etc/app.conf:\n  - ${yq(`env > ${out("trigger")}`)}\n`,
      "web/commands.yaml": `- ${yq(`env > ${out("command")}`)}\n`,
    });
    const r = await safcm(["sync", "-C", f.conf, "h1"], {
      env: { ...env, LC_TIME: "C.UTF-8", WORKSTATION_ONLY: "workstation-value-J4r6" },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const what of ["detect", "trigger", "command"]) {
      const text = readFileSync(out(what), "utf8");
      for (const hidden of [ENV_SECRET, "SAFCM_TEST_TOKEN", "workstation-value-J4r6"]) {
        assert.ok(!text.includes(hidden), `${what} sees ${hidden}:\n${text}`);
      }
      const names = text.split("\n").map((line) => line.split("=")[0]);
      // What a login would set is there; the locale passes as ssh's SendEnv passes it.
      for (const name of ["PATH", "HOME", "USER", "LOGNAME", "LC_TIME"]) {
        assert.ok(names.includes(name), `${what} lacks ${name}:\n${text}`);
      }
    }
  });

  test("a failing command whose output holds a secret fails the host without showing it", async () => {
    const f = fixture({
      "web/commands.yaml": `- ${yq('cat "$SAFCM_ROOT/etc/app.conf"; exit 7')}\n`,
    });
    for (const args of [[], ["--json"], ["-l", "debug2"]]) {
      const r = await safcm(["sync", "-C", f.conf, ...args, "h1"], { env });
      assert.equal(r.code, 1, r.stderr);
      assertNoSecret(r, `failing command ${args.join(" ")}`);
      assert.match(r.stdout + r.stderr, /token=\*{8}/);
    }
  });

  test("a template error that would quote a secret does not show it, in sync and check", async () => {
    const f = fixture({
      "web/files/etc/app.conf": "{% include vars.token %}\n",
    });
    const sync = await safcm(["sync", "-C", f.conf, "h1"], { env });
    assert.equal(sync.code, 1, sync.stderr);
    assert.match(
      sync.stdout + sync.stderr,
      /template error in group "web" at web\/files\/etc\/app\.conf:1/,
    );
    assertNoSecret(sync, "sync with a template error");
    const check = await safcm(["check", "-C", f.conf, "h1"], { env });
    assert.equal(check.code, 2);
    assertNoSecret(check, "check with a template error");
  });

  test("a failing !command is a configuration error naming file, line and exit status, never its output", async () => {
    // The marker is made by printf, so that the command's text (which is shown) does not hold it.
    const print = `printf '${MARKER.replace("output", "%s")}\\n' output`;
    const failing = `${print}; ${print} >&2; exit 3`;
    const f = fixture({ "web/vars.yaml": `port: 1\napi: !command ${yq(failing)}\n` });
    for (const args of [[], ["--json"], ["-l", "debug2"]]) {
      const r = await safcm(["sync", "-C", f.conf, ...args, "web"], { env });
      assert.equal(r.code, 2);
      assertNoSecret(r, "failing !command");
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /web\/vars\.yaml:2:15: !command ".*" failed with exit status 3/);
    }
    // Nothing was contacted.
    for (const root of f.roots) assert.deepEqual(readdirSync(root), []);
  });

  test("an unset environment variable is a configuration error naming file and line", async () => {
    const f = fixture();
    const r = await safcm(["sync", "-C", f.conf, "web"], { env: { SAFCM_TEST_TOKEN: undefined } });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /web\/vars\.yaml:1:13: environment variable "SAFCM_TEST_TOKEN" is not set/,
    );
    assert.equal(f.runs(), 1, "resolved before any host is contacted, all problems at once");
    for (const root of f.roots) assert.deepEqual(readdirSync(root), []);
  });

  test("a host in no group that sets a secret resolves nothing, in sync and check", async () => {
    const f = fixture();
    const sync = await safcm(["sync", "-C", f.conf, "lone"], {
      env: { SAFCM_TEST_TOKEN: undefined },
    });
    assert.equal(sync.code, 0, sync.stderr);
    const check = await safcm(["check", "-C", f.conf, "lone"], {
      env: { SAFCM_TEST_TOKEN: undefined },
    });
    assert.equal(check.code, 0, check.stderr);
    assert.equal(f.runs(), 0);
  });

  test("check resolves the secrets of the hosts it checks, once", async () => {
    const f = fixture();
    const r = await safcm(["check", "-C", f.conf], { env });
    assert.equal(r.code, 0, r.stderr);
    assertNoSecret(r, "check");
    assert.equal(f.runs(), 1);
  });

  test("a detected_<x> directory counts as a group any host may be in", async () => {
    const f = fixture();
    writeTree(f.conf, {
      "detected_linux/vars.yaml": `x: !command ${yq(`echo run >> ${f.count}; echo d`)}\n`,
    });
    const r = await safcm(["check", "-C", f.conf, "lone"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(f.runs(), 1);
  });
});
