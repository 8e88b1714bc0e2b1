// The bootstrap's status line comes from the host: only the exact forms the
// sh script prints are accepted, anything else is not a status.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { RUNTIME_VERSION } from "../../src/runtime/pin.ts";
import { explainSudo, parseStatus } from "../../src/transport/bootstrap.ts";
import type { TransportHost } from "../../src/transport/transport.ts";
import { safcm, tempDir, writeTree } from "../helpers/tree.ts";

const P = "safcm-bootstrap: ";

test("the status lines the sh bootstrap prints are understood", () => {
  assert.deepEqual(parseStatus(`${P}run host 20.20.2 -`), {
    type: "run",
    runtime: { kind: "host", version: "20.20.2", uploaded: false },
  });
  assert.deepEqual(parseStatus(`${P}run bundled ${RUNTIME_VERSION} uploaded`), {
    type: "run",
    runtime: { kind: "bundled", version: RUNTIME_VERSION, uploaded: true },
  });
  assert.deepEqual(parseStatus(`${P}upload arm64`), { type: "upload", arch: "arm64" });
  assert.deepEqual(parseStatus(`${P}fail arch armv7l`), {
    type: "fail",
    reason: "arch",
    detail: "armv7l",
  });
});

test("anything else from the host is not a status", () => {
  for (const line of [
    "",
    "Welcome to web1!",
    `${P}run host 20.20.2`,
    `${P}run host v20 -`,
    `${P}run host 20.20.2 - extra`,
    `${P}run bundled 1.2.3 present`, // not the pinned version
    `${P}run bundled ${RUNTIME_VERSION} maybe`,
    `${P}run other ${RUNTIME_VERSION} present`,
    `${P}upload x86`,
    `${P}upload x64 more`,
    `${P}fail Arch x`,
    `${P}fail arch \x1b[31mred`,
    `${P}fail arch caf\u00e9`,
    `${P}install everything`,
  ]) {
    assert.equal(parseStatus(line), null, JSON.stringify(line));
  }
});

test("output before the status line (a chatty login shell) fails the host, escaped, without running the helper", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    // A shell that greets first, as some login set-ups do.
    writeFileSync(
      join(bin, "sh"),
      `#!/bin/dash\nprintf 'Welcome \\033[2J\\n'\nexec /bin/dash "$@"\n`,
      {
        mode: 0o755,
      },
    );
    const root = join(dir, "root");
    mkdirSync(root);
    writeTree(join(dir, "conf"), {
      "hosts.yaml": `- name: here\n  connection: local\n  root: ${root}\n`,
      "all/files/x": "x\n",
    });
    const r = await safcm(["sync", "-C", join(dir, "conf"), "here"], {
      env: { PATH: `${bin}:${process.env.PATH}` },
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /\[here\] error: unexpected output from the host before the helper started: "Welcome \\x1b\[2J"/,
    );
    assert.ok(!r.stdout.includes("\x1b"));
    assert.deepEqual(readdirSync(root), []);
  } finally {
    cleanup();
  }
});

// Issue 19 item 9: where the host's own name does not resolve, sudo warns about it before
// its error; the first sudo line was taken for the reason, so the NOPASSWD advice was lost.
test("sudo asking for a password is recognised after its warning about an unresolvable host name", () => {
  // Real sudo, as a user without a sudoers rule, in a UTS namespace whose host name
  // resolves nowhere.
  const run = spawnSync(
    "unshare",
    [
      "--uts",
      "sh",
      "-c",
      'hostname safcm-unresolvable.invalid && exec su -s /bin/sh nobody -c "sudo -n true"',
    ],
    { encoding: "utf8" },
  );
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /^sudo: unable to resolve host safcm-unresolvable\.invalid/);
  const host: TransportHost = {
    name: "web1",
    connection: "ssh",
    sshUser: "admin",
    node: "node",
    sshConfig: null,
    sudo: true,
    sshPersist: 0,
    runtime: "auto",
  };
  assert.match(
    explainSudo(host, run.stderr) ?? "",
    /^sudo on this host asks admin for a password.*"admin ALL=\(root\) NOPASSWD: ALL"/,
  );
  // Another failure is named by sudo's last line, its error, not by the warning before it.
  assert.equal(
    explainSudo(
      host,
      "sudo: unable to resolve host web1: Name or service not known\nsudo: sorry, you must have a tty to run sudo\n",
    ),
    "sudo failed: sudo: sorry, you must have a tty to run sudo",
  );
});
