// Shell completion (SPEC 4), run in the real shells: the script printed by
// `safcm completion <shell>` is loaded into bash, fish and zsh, which then
// call the real `safcm` (found in PATH) for the candidates.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { requireProgram } from "../helpers/programs.ts";
import { REPO, safcm, tempDir, writeTree } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir();
after(cleanup);

const conf = join(dir, "conf");
writeTree(conf, {
  "hosts.yaml": "- name: web1\n- name: web2\n- name: db1\n",
  "groups.yaml": "webservers: [web1, web2]\ndebian: [detected_debian]\nwebservers_remove: [web2]\n",
  "detected_arm64/files/etc/motd": "arm\n",
});
mkdirSync(join(dir, "confs-a"));
mkdirSync(join(dir, "confs-b"));
const ALL_NAMES = [
  "all",
  "db1",
  "debian",
  "detected_arm64",
  "detected_debian",
  "web1",
  "web2",
  "webservers",
];
const LEVELS = ["error", "info", "verbose", "debug", "debug2"];
const COMMANDS = ["sync", "check", "fixperms", "version", "help", "completion", "runtime"];
const SYNC_OPTIONS = [
  "--dry-run",
  "--no-dry-run",
  "--dir",
  "--log-level",
  "--jobs",
  "--batch",
  "--max-fail",
  "--json",
  "--color",
];

/** PATH with this clone's bin/ first, so the scripts call this safcm. */
const env = { ...process.env, PATH: `${join(REPO, "bin")}:${process.env.PATH}` };

async function script(shell: string): Promise<string> {
  const r = await safcm(["completion", shell]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** Runs `code` in `shell` (no user start-up files) in `cwd`. */
function run(shell: string, args: string[], cwd = dir): { stdout: string; stderr: string } {
  const r = spawnSync(shell, args, { cwd, env, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout, stderr: r.stderr };
}

/**
 * Loads the bash script into a plain bash (no start-up files, so no
 * bash-completion package), sets COMP_WORDS with the cursor on the last word,
 * calls the function and returns COMPREPLY.
 */
async function bash(words: string[], cwd = dir): Promise<{ stdout: string[]; stderr: string }> {
  const code = [
    await script("bash"),
    'if type _init_completion >/dev/null 2>&1; then echo "bash-completion is loaded" >&2; exit 1; fi',
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}`,
    '_safcm; printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const { stdout, stderr } = run("bash", ["--norc", "--noprofile", "-c", code], cwd);
  return { stdout: stdout.split("\n").filter(Boolean), stderr };
}

describe("completion in a real bash, without the bash-completion package", () => {
  const cases: [string, string[], string[]][] = [
    ["commands", ["safcm", ""], [...COMMANDS, "--version", "--help"]],
    ["hosts and groups of -C DIR", ["safcm", "sync", "-C", conf, ""], ALL_NAMES],
    ["names by prefix", ["safcm", "sync", "-C", conf, "web"], ["web1", "web2", "webservers"]],
    [
      "names already given are not offered again",
      ["safcm", "check", "-C", conf, "web1", "web"],
      ["web2", "webservers"],
    ],
    ["log levels after -l", ["safcm", "sync", "-l", ""], LEVELS],
    // bash splits --log-level=de at the "=" and completes only the value
    [
      "log levels after --log-level=",
      ["safcm", "check", "--log-level", "=", "de"],
      ["debug", "debug2"],
    ],
    ["colours", ["safcm", "sync", "--color", ""], ["auto", "always", "never"]],
    ["options", ["safcm", "sync", "--j"], ["--jobs", "--json"]],
    ["--no-dry-run", ["safcm", "sync", "--no"], ["--no-dry-run"]],
    ["options of check only", ["safcm", "check", "--"], ["--dir", "--log-level"]],
    [
      "directories after -C",
      ["safcm", "sync", "-C", join(dir, "confs")],
      [join(dir, "confs-a"), join(dir, "confs-b")],
    ],
    ["shells", ["safcm", "completion", ""], ["bash", "zsh", "fish"]],
    ["help topics", ["safcm", "help", "s"], ["sync"]],
    ["runtime architectures", ["safcm", "runtime", "fetch", ""], ["x64", "arm64"]],
    ["nothing after -j", ["safcm", "sync", "-j", ""], []],
    ["rollout options", ["safcm", "sync", "--"], SYNC_OPTIONS],
    ["--batch by prefix", ["safcm", "sync", "--b"], ["--batch"]],
    ["--max-fail by prefix", ["safcm", "sync", "--batch", "2", "--m"], ["--max-fail"]],
    ["nothing after --batch", ["safcm", "sync", "--batch", ""], []],
    ["nothing after --max-fail", ["safcm", "sync", "--batch", "2", "--max-fail", ""], []],
    [
      "hosts after --batch N",
      ["safcm", "sync", "-C", conf, "--batch", "2", "web"],
      ["web1", "web2", "webservers"],
    ],
  ];
  for (const [name, words, expected] of cases) {
    test(name, async () => {
      const { stdout, stderr } = await bash(words);
      assert.deepEqual(stdout.sort(), [...expected].sort());
      assert.equal(stderr, "");
    });
  }

  test("the current directory is the configuration directory without -C", async () => {
    const { stdout } = await bash(["safcm", "sync", "d"], conf);
    assert.deepEqual(stdout, ["db1", "debian", "detected_arm64", "detected_debian"]);
  });

  test("a broken configuration still completes what it can, silently and at once", async () => {
    const broken = join(dir, "broken");
    writeTree(broken, {
      "hosts.yaml": '- name: web1\n- name: [unclosed\n- name: db1\n- name: "\\e[31mred"\n',
      "detected_x/files/f": "x\n",
    });
    // A FIFO where groups.yaml should be: reading it would hang the shell.
    execFileSync("mkfifo", [join(broken, "groups.yaml")]);
    const { stdout: names, stderr } = await bash(["safcm", "sync", "-C", broken, ""]);
    for (const name of ["all", "web1", "db1", "detected_x"]) assert.ok(names.includes(name), name);
    assert.ok(!names.some((n) => n.includes("\x1b")), "no terminal control sequence is offered");
    assert.equal(stderr, "");
    const missing = await safcm(["__complete", "bash", "--", "sync", "-C", join(dir, "nope"), ""]);
    assert.equal(missing.code, 0);
    assert.equal(missing.stdout, "all\n");
    assert.equal(missing.stderr, "");
  });
});

describe("completion in real fish and zsh", () => {
  test("fish completes commands, hosts of -C DIR, log levels and directories", async () => {
    requireProgram("fish", "fish");
    const path = join(dir, "safcm.fish");
    writeTree(dir, { "safcm.fish": await script("fish") });
    const complete = (line: string) =>
      run("fish", ["--no-config", "-c", `source ${path}; complete -C '${line}'`])
        .stdout.split("\n")
        .filter(Boolean)
        .map((l) => l.split("\t")[0])
        .sort();
    assert.deepEqual(complete(`safcm sync -C ${conf} `), ALL_NAMES);
    assert.deepEqual(complete("safcm sync --log-level=d"), [
      "--log-level=debug",
      "--log-level=debug2",
    ]);
    assert.deepEqual(complete("safcm com"), ["completion"]);
    assert.deepEqual(complete("safcm sync --ba"), ["--batch"]);
    assert.deepEqual(complete("safcm sync --batch 2 --max"), ["--max-fail"]);
    assert.deepEqual(complete(`safcm check -C ${join(dir, "confs")}`), [
      `${join(dir, "confs-a")}/`,
      `${join(dir, "confs-b")}/`,
    ]);
  });

  test("zsh, interactive in a pseudo-terminal, completes with the script installed either way", async () => {
    requireProgram("zsh", "zsh");
    const fpathDir = join(dir, "zsh-functions");
    writeTree(fpathDir, { _safcm: await script("zsh") });
    run("zsh", ["-n", join(fpathDir, "_safcm")]);
    const setups = {
      fpath: `fpath=(${fpathDir} $fpath); autoload -U compinit; compinit -u -D`,
      eval: 'autoload -U compinit; compinit -u -D; eval "$(safcm completion zsh)"',
    };
    // An interactive zsh (no start-up files) in zsh's own pseudo-terminal
    // module: the setup, then `typed`, a TAB, and "echo LINE: " put in front
    // of the completed line, which the shell then prints. The keys after the
    // TAB wait in the terminal while the completion runs.
    const driver = [
      "zmodload zsh/zpty",
      "zpty z zsh -f -i",
      // the prompt "READY> " (spelt so that the echoed setup line does not match)
      // says that the setup is done and the line editor waits
      // emacs key bindings whatever $EDITOR says (EDITOR=vi would select vi's)
      "zpty -w z \"bindkey -e; $SETUP; PS1=READY\\${PS1:0:0}'> '\"",
      "zpty -r z out '*READY> '",
      "zpty -n -w z \"$TYPED\"$'\\t\\x01echo LINE: \\n'",
      "zpty -r z out $'*\\nLINE: *\\n*'",
      "print -r -- \"${${out##*$'\\n'LINE: }%%$'\\r'*}\"",
      "zpty -d z",
    ].join("\n");
    for (const [how, setup] of Object.entries(setups)) {
      const complete = (typed: string): string => {
        const r = spawnSync("zsh", ["-f", "-c", driver], {
          cwd: dir,
          env: { ...env, SETUP: setup, TYPED: typed },
          encoding: "utf8",
          timeout: 60_000,
        });
        assert.equal(
          r.status,
          0,
          r.status === null ? `zsh did not complete "${typed}" in 60 s` : r.stderr,
        );
        return r.stdout.trim();
      };
      assert.equal(complete(`safcm sync -C ${conf} webs`), `safcm sync -C ${conf} webservers`, how);
      assert.equal(complete("safcm sync --log-level=ve"), "safcm sync --log-level=verbose", how);
      assert.equal(complete("safcm chec"), "safcm check", how);
      assert.equal(complete("safcm sync --bat"), "safcm sync --batch", how);
      assert.equal(
        complete("safcm sync --batch 2 --max-f"),
        "safcm sync --batch 2 --max-fail",
        how,
      );
    }
  });
});

test("completion for an unknown shell is a usage error; __complete is not in the help", async () => {
  const bad = await safcm(["completion", "tcsh"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /expected one of bash, zsh, fish \(see "safcm help completion"\)/);
  const help = await safcm(["help"]);
  assert.match(help.stdout, /safcm completion bash\|zsh\|fish/);
  assert.doesNotMatch(help.stdout, /__complete/);
});
