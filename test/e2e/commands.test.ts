// End-to-end triggers and commands (SPEC 3.5, 5.4) and the escaping of what a
// host prints (SPEC 1.3, 7): the real CLI over the local connection, with
// temporary roots (commands run there with SAFCM_ROOT set).

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { safcm, tempDir, writeTree, type Node } from "../helpers/tree.ts";

interface JsonCommand {
  command: string;
  trigger: string | null;
  exit_code: number | null;
  output: string | null;
}
interface JsonReport {
  hosts: { ok: boolean; error: string | null; commands: JsonCommand[] }[];
}

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

function fixture(tree: Record<string, Node>) {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const conf = join(dir, "conf");
  const root = join(dir, "root");
  mkdirSync(root, { mode: 0o755 });
  writeTree(conf, { "hosts.yaml": `- name: h1\n  connection: local\n  root: ${root}\n`, ...tree });
  const sync = (...args: string[]) => safcm(["sync", "-C", conf, ...args, "h1"]);
  const json = async (...args: string[]) => {
    const r = await sync("--json", ...args);
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as JsonReport;
  };
  return { root, sync, json, log: () => readFileSync(join(root, "log"), "utf8") };
}

/** YAML double-quoted scalar of `s`. */
const yq = (s: string): string => JSON.stringify(s);

describe("triggers and commands over the local connection", { concurrency: true }, () => {
  test("a trigger fires once per sync, before commands.yaml; not on a no-op; not in dry-run", async () => {
    const f = fixture({
      "all/files/etc/app/a.conf": "a\n",
      "all/files/etc/app/b.conf": "b\n",
      "all/triggers.yaml": `/etc/app:\n  - ${yq('echo "trigger $SAFCM_TRIGGER" >> log')}\n`,
      "all/commands.yaml": `- ${yq('echo "command in $PWD ($SAFCM_ROOT)" >> log')}\n`,
    });
    const first = await f.sync();
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const command = `command in ${f.root} (${f.root})\n`;
    assert.equal(f.log(), `trigger /etc/app\n${command}`, "two changed files, one trigger run");
    assert.match(
      first.stdout,
      /\[h1\] executed 2 command\(s\):\n\[h1\] "echo \\"trigger \$SAFCM_TRIGGER\\" >> log" \(trigger for "\/etc\/app"\)\n/,
    );

    await f.sync();
    assert.equal(f.log(), `trigger /etc/app\n${command}${command}`, "no trigger on a no-op");

    writeFileSync(join(f.root, "etc/app/b.conf"), "changed\n");
    const dry = await f.json("--dry-run");
    assert.deepEqual(
      dry.hosts[0].commands.map((c) => [c.trigger, c.exit_code, c.output]),
      [
        ["/etc/app", null, null],
        [null, null, null],
      ],
    );
    assert.equal(f.log(), `trigger /etc/app\n${command}${command}`, "dry-run runs nothing");

    await f.sync();
    assert.equal(f.log(), `trigger /etc/app\n${command}${command}trigger /etc/app\n${command}`);
  });

  test("a failing command shows its output and stops the host (exit 1); later commands do not run", async () => {
    const f = fixture({
      "all/commands.yaml": [
        `- ${yq("echo first >> log")}`,
        `- ${yq("echo 'it went wrong'; echo 'on stderr' >&2; exit 3")}`,
        `- ${yq("echo never >> log")}`,
      ].join("\n"),
    });
    const r = await f.sync();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /\[h1\] "echo 'it went wrong'; echo 'on stderr' >&2; exit 3": exit status 3\n {3}> it went wrong\n {3}> on stderr\n/,
    );
    assert.match(
      r.stdout,
      /\[h1\] error: command "echo 'it went wrong'.*" failed with exit status 3/,
    );
    assert.equal(f.log(), "first\n");
    const report = await f.json();
    assert.equal(report.hosts[0].ok, false);
    assert.deepEqual(
      report.hosts[0].commands.map((c) => c.exit_code),
      [0, 3],
    );
  });

  test("terminal control sequences from a host are escaped in the human report, raw in JSON", async () => {
    // ESC [2J (clear screen), OSC 0 (window title) ended by BEL, the C1 CSI
    // U+009B (as UTF-8, bytes c2 9b), a bidi override U+202E and a carriage return.
    const printed = "\x1b[2J\x1b]0;pwned\x07\u009b\u202eevil\rok\n";
    const f = fixture({
      "all/commands.yaml": `- ${yq("printf '\\033[2J\\033]0;pwned\\007\\302\\233\\342\\200\\256evil\\rok\\n'")}\n`,
    });
    const human = await f.sync();
    assert.equal(human.code, 0, human.stdout + human.stderr);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(human.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
    assert.ok(
      human.stdout.includes("   > \\x1b[2J\\x1b]0;pwned\\x07\\x9b\\u202eevil\\rok\n"),
      human.stdout,
    );
    const report = await f.json();
    assert.equal(report.hosts[0].commands[0].output, printed, "JSON keeps the raw string");

    // The same bytes in a failing command reach the host error and stay escaped there.
    const g = fixture({ "all/commands.yaml": `- ${yq("printf '\\033]0;x\\007'; exit 1")}\n` });
    const failed = await g.sync();
    assert.equal(failed.code, 1);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(failed.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    assert.ok(failed.stdout.includes("> \\x1b]0;x\\x07"), failed.stdout);
    assert.ok(!existsSync(join(g.root, "log")));
  });
});
