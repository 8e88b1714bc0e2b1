// Facts end to end (SPEC 3.4): the real CLI over a private sshd on 127.0.0.1 and over the local
// connection. The managed host is this machine, so the rendered facts must be its own; a
// detect_vars line from the host that is malformed fails the host with the line escaped.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { JsonReport } from "../../src/report/json-types.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { safcm, tempDir, writeTree, type Tree } from "../helpers/tree.ts";

let sshd: Sshd;
const cleanups: (() => void)[] = [];

before(async () => {
  sshd = await startSshd(["f1"]);
});
after(async () => {
  cleanups.forEach((c) => c());
  // undefined when the set-up failed: then there is nothing to stop
  await (sshd as Sshd | undefined)?.stop();
});

/** One host f1 with its own root, reached over `connection`; `config` is added to config.yaml. */
function fixture(connection: "ssh" | "local", tree: Tree, config = "") {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const conf = join(dir, "conf");
  const root = join(dir, "root");
  mkdirSync(root, { mode: 0o755 });
  writeTree(conf, {
    ...tree,
    "hosts.yaml": `- name: f1\n  root: ${root}\n${connection === "local" ? "  connection: local\n" : ""}`,
    "config.yaml": (connection === "ssh" ? `ssh_config: ${sshd.config}\n` : "") + config,
  });
  return {
    root,
    sync: (...args: string[]) => safcm(["sync", "-C", conf, ...args, "f1"]),
    check: () => safcm(["check", "-C", conf]),
  };
}

const TEMPLATE = {
  "all/templates.yaml": "- /etc/facts\n",
  "all/files/etc/facts": [
    "{{ facts.hostname }} {{ facts.os }}/{{ facts.arch }} {{ facts.kernel }}",
    "{{ facts.os_id }} {{ facts.os_version_id }} cpus={{ facts.cpus | plus: 0 }}",
    "{% if facts.ipv4 contains '127.0.0.1' %}loopback{% else %}no loopback{% endif %}",
    "rack={{ facts.rack }} zone={{ facts.zone }}",
    "",
  ].join("\n"),
};

for (const connection of ["ssh", "local"] as const) {
  describe(`facts over the ${connection} connection`, { concurrency: true }, () => {
    test("templates render the host's own facts and the detect_vars ones", async () => {
      const f = fixture(
        connection,
        TEMPLATE,
        "detect_vars: ['echo rack=r7', \"printf 'zone=eu west\\\\n'\"]\n",
      );
      const r = await f.sync();
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const id = /^ID="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "";
      const version =
        /^VERSION_ID="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "";
      const nproc = execFileSync("nproc", { encoding: "utf8" }).trim();
      assert.equal(
        readFileSync(join(f.root, "etc/facts"), "utf8"),
        [
          `${os.hostname()} linux/${process.arch} ${os.release()}`,
          `${id} ${version} cpus=${nproc}`,
          "no loopback",
          "rack=r7 zone=eu west",
          "",
        ].join("\n"),
      );
      // check has no host: placeholders, and detect_vars names are accepted.
      const check = await f.check();
      assert.equal(check.code, 0, check.stderr);
    });

    test("a malformed detect_vars line fails the host with the line escaped", async () => {
      const f = fixture(
        connection,
        TEMPLATE,
        `detect_vars: ["printf 'rack=1\\\\nbad\\\\033[2J line\\\\n'"]\n`,
      );
      const r = await f.sync();
      assert.equal(r.code, 1);
      assert.ok(!r.stdout.includes("\x1b"), "no raw ESC reaches the terminal");
      assert.match(
        r.stdout,
        /\[f1\] error: detect_vars command .* printed a line that is not name=value .*: "bad\\x1b\[2J line"/,
      );
      const json = await f.sync("--json");
      const host = (JSON.parse(json.stdout) as JsonReport).hosts[0];
      assert.ok(host.error?.endsWith(': "bad\x1b[2J line"'), "JSON keeps the raw text");
    });

    test("a name twice, a built-in name and an unknown fact fail the host", async () => {
      const twice = fixture(connection, TEMPLATE, "detect_vars: ['echo rack=1', 'echo rack=2']\n");
      assert.match(
        (await twice.sync()).stdout,
        /error: detect_vars command "echo rack=2" printed the fact "rack" a second time: "rack=2"/,
      );
      const builtIn = fixture(connection, TEMPLATE, "detect_vars: ['echo os_id=x']\n");
      assert.match((await builtIn.sync()).stdout, /printed the built-in fact "os_id"/);
      const unknown = fixture(connection, {
        "all/templates.yaml": "- /etc/x\n",
        "all/files/etc/x": "{{ facts.os_idd }}\n",
      });
      const r = await unknown.sync();
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        /template error in group "all" at all\/files\/etc\/x:1: undefined variable: facts\.os_idd/,
      );
      // check finds it too, without a host: os_idd is no fact at all.
      const check = await unknown.check();
      assert.equal(check.code, 2);
      assert.match(check.stderr, /facts\.os_idd/);
    });
  });
}
