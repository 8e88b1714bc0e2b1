// End to end, over the test sshd and over the local connection: a trigger
// that failed runs again at the next sync until it succeeds (SPEC 3.5, 5.7),
// validate.yaml keeps a file that the real `sshd -t` rejects (SPEC 3.5), and a
// fleet whose commands.yaml has guarded and plain commands reads "unchanged"
// when nothing changed (SPEC 3.5, 7.1). The helper runs as root on this
// machine, so its pending-trigger journals are in the real /var/lib/safcm:
// trackState() removes what these tests may leave there.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { requireProgram } from "../helpers/programs.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { journalOf, trackState } from "../helpers/state.ts";
import { safcm, tempDir, writeTree, type Tree } from "../helpers/tree.ts";

interface JsonCommand {
  command: string;
  trigger: string | null;
  exit_code: number | null;
  skipped: "creates" | "unless" | null;
  pending: boolean;
}
interface JsonReport {
  hosts: {
    name: string;
    ok: boolean;
    changed: boolean;
    error: string | null;
    commands: JsonCommand[];
  }[];
}

let sshd: Sshd;
const state = trackState();
const cleanups: (() => void)[] = [];
before(async () => {
  sshd = await startSshd(["h1", "h2", "h3"]);
});
after(async () => {
  cleanups.forEach((c) => c());
  state.cleanup();
  await (sshd as Sshd | undefined)?.stop();
});

type Via = "ssh" | "local";

/** A configuration with `hosts` (each with its own root), reached over `via`. */
function fixture(via: Via, hosts: string[], tree: Tree) {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const conf = join(dir, "conf");
  const roots: Record<string, string> = {};
  const yaml = hosts.map((h) => {
    roots[h] = state.root(join(dir, `root-${h}`));
    mkdirSync(roots[h], { mode: 0o755 });
    const connection = via === "local" ? "  connection: local\n" : "";
    return `- name: ${h}\n${connection}  root: ${roots[h]}\n`;
  });
  writeTree(conf, {
    ...tree,
    "hosts.yaml": yaml.join(""),
    "config.yaml": via === "ssh" ? `ssh_config: ${sshd.config}\n` : "",
  });
  const run = (...args: string[]) => safcm(["sync", "-C", conf, ...args, ...hosts]);
  const json = async (...args: string[]) => {
    const r = await run("--json", ...args);
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as JsonReport;
  };
  return { conf, roots, run, json };
}

/** YAML double-quoted scalar of `s`. */
const yq = (s: string): string => JSON.stringify(s);

for (const via of ["ssh", "local"] as const) {
  describe(`over ${via}`, { concurrency: true }, () => {
    test("a trigger whose command failed runs again at the next sync, although nothing changed, and is then cleared", async () => {
      const trigger = "echo reload >> log; test -e fixed";
      const f = fixture(via, ["h1"], {
        "all/files/etc/app.conf": "v1\n",
        "all/triggers.yaml": `/etc/app.conf:\n  - ${yq(trigger)}\n`,
      });
      const root = f.roots.h1;
      const log = () => readFileSync(join(root, "log"), "utf8");

      const first = await f.run();
      assert.equal(first.code, 1, first.stdout + first.stderr);
      assert.match(
        first.stdout,
        /\[h1\] error: command ".*" \(trigger for "\/etc\/app.conf"\) failed with exit status 1/,
      );
      assert.ok(existsSync(journalOf(root)), "the trigger is pending on the host");

      const dry = await f.json("-n");
      assert.deepEqual(
        dry.hosts[0].commands.map((c) => [c.trigger, c.pending, c.exit_code]),
        [["/etc/app.conf", true, null]],
      );
      assert.equal(dry.hosts[0].changed, true);
      assert.equal(log(), "reload\n", "dry-run runs nothing");

      writeFileSync(join(root, "fixed"), "");
      const second = await f.run();
      assert.equal(second.code, 0, second.stdout + second.stderr);
      assert.equal(
        second.stdout,
        [
          "[h1] executed 1 command(s):",
          `[h1] ${yq(trigger)} (trigger for "/etc/app.conf", pending from an earlier sync)`,
          "1 host(s): 1 changed, 0 unchanged, 0 failed; commands ran on 1 host(s)",
          "",
        ].join("\n"),
      );
      assert.equal(log(), "reload\nreload\n");
      assert.equal(existsSync(journalOf(root)), false, "cleared");

      const third = await f.run();
      assert.equal(third.stdout, "1 host(s): 0 changed, 1 unchanged, 0 failed\n");
      assert.equal(log(), "reload\nreload\n");
    });

    test("validate.yaml: a sshd_config that sshd -t rejects keeps the old file", async () => {
      const sshdPath = resolve(requireProgram("sshd", "openssh-server"));
      const { dir, cleanup } = tempDir();
      cleanups.push(cleanup);
      const key = join(dir, "host_key");
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
      const good = `HostKey ${key}\nPort 2222\n`;
      const tree: Tree = {
        "all/files/etc/ssh/sshd_config": good,
        "all/permissions.yaml": "/etc/ssh/sshd_config: 0600\n",
        "all/validate.yaml": `/etc/ssh/sshd_config: ${sshdPath} -t -f %s\n`,
        "all/triggers.yaml": `/etc/ssh/sshd_config:\n  - echo reload >> log\n`,
      };
      const f = fixture(via, ["h2"], tree);
      const root = f.roots.h2;
      const config = join(root, "etc/ssh/sshd_config");
      const first = await f.run();
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.equal(readFileSync(config, "utf8"), good);

      // A typo: the new file is checked before it replaces the old one.
      writeTree(f.conf, {
        "all/files/etc/ssh/sshd_config": `HostKey ${key}\nProt 2222\n`,
      });
      const typo = await f.run();
      assert.equal(typo.code, 1, typo.stdout + typo.stderr);
      assert.match(
        typo.stdout,
        new RegExp(
          `\\[h2\\] error: "/etc/ssh/sshd_config": validate command "${sshdPath} -t -f %s" failed with exit status 255; the old file is kept:\\n.*Bad configuration option: Prot`,
        ),
      );
      assert.equal(readFileSync(config, "utf8"), good, "the old file is in place");
      assert.deepEqual(
        readdirSync(join(root, "etc/ssh")),
        ["sshd_config"],
        "no temporary file left",
      );
      assert.equal(
        readFileSync(join(root, "log"), "utf8"),
        "reload\n",
        "no reload of a rejected file",
      );
    });

    test("a fleet no-op with guarded and plain commands reads unchanged", async () => {
      const f = fixture(via, ["h1", "h2", "h3"], {
        "all/files/etc/motd": "hi\n",
        "all/commands.yaml": [
          "- run: mkdir -p var/lib/app && touch var/lib/app/db",
          "  creates: /var/lib/app/db",
          `- run: ${yq("echo on > editor")}`,
          `  unless: ${yq('test "$(cat editor)" = on')}`,
          "- run: echo plain",
          "",
        ].join("\n"),
      });
      const first = await f.run();
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.match(
        first.stdout,
        /\[h1\] "mkdir -p var\/lib\/app && touch var\/lib\/app\/db" \(creates "\/var\/lib\/app\/db"\)\n/,
      );
      assert.match(
        first.stdout,
        /3 host\(s\): 3 changed, 0 unchanged, 0 failed; commands ran on 3 host\(s\)\n$/,
      );

      const again = await f.run();
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(
        again.stdout,
        /^3 host\(s\): 0 changed, 3 unchanged, 0 failed; commands ran on 3 host\(s\)$/m,
      );
      assert.doesNotMatch(again.stdout, /mkdir|editor/, "skipped commands are not listed");
      const report = await f.json();
      for (const h of report.hosts) {
        assert.equal(h.changed, false, h.name);
        assert.deepEqual(
          h.commands.map((c) => [c.skipped, c.exit_code]),
          [
            ["creates", null],
            ["unless", null],
            [null, 0],
          ],
        );
      }
      // creates is checked on the host in dry-run too.
      for (const root of Object.values(f.roots)) execFileSync("rm", [join(root, "var/lib/app/db")]);
      const dry = await f.json("-n");
      assert.deepEqual(
        dry.hosts[0].commands.map((c) => [c.skipped, c.exit_code]),
        [
          [null, null],
          [null, null],
          [null, null],
        ],
      );
      assert.equal(existsSync(join(f.roots.h1, "var/lib/app/db")), false);
    });
  });
}
