// End-to-end interruption (SPEC 5.5): SIGINT or SIGTERM to safcm while a
// long command of commands.yaml runs on a host (over the local connection, a
// real helper child process). The command's processes, including a
// grandchild and one that ignores SIGTERM, must all be gone; the report says
// what was done; the exit status is 130 or 143; nothing else is changed.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { alive } from "../helpers/proc.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { SAFCM, safcm, snapshot, tempDir, writeTree } from "../helpers/tree.ts";

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

/** The command: a shell that starts a grandchild, and a process that ignores SIGTERM (only
 * SIGKILL ends it); each writes its pid into `pids`, then the shell waits. */
function longCommand(pids: string): string {
  const q = `'${pids}'`; // a temporary directory: no quote in it
  return (
    `sh -c 'trap "" TERM; echo $$ > "$0/stubborn.pid"; exec sleep 302' ${q} & ` +
    `sleep 301 & echo $! > ${q}/child.pid; echo $$ > ${q}/shell.pid; ` +
    `sleep 0.2; echo ready > ${q}/ready; wait`
  );
}

interface Report {
  dry_run: boolean;
  hosts: {
    name: string;
    ok: boolean;
    error: string | null;
    files: { path: string }[];
    commands: { command: string; exit_code: number | null }[];
  }[];
}

/** Two hosts, h1 running the long command; over the local connection or, with `sshConfig`,
 * over ssh to the test sshd. */
function fixture(sshConfig?: string) {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const pids = join(dir, "pids");
  const root1 = join(dir, "root1");
  const root2 = join(dir, "root2");
  for (const d of [pids, root1, root2]) mkdirSync(d, { mode: 0o755 });
  const connection = sshConfig === undefined ? "\n  connection: local" : "";
  writeTree(join(dir, "conf"), {
    "hosts.yaml":
      `- name: h1${connection}\n  root: ${root1}\n` + `- name: h2${connection}\n  root: ${root2}\n`,
    ...(sshConfig === undefined ? {} : { "config.yaml": `ssh_config: ${sshConfig}\n` }),
    "all/files/etc/motd": "hello\n",
    "h1/commands.yaml": `- ${JSON.stringify(longCommand(pids))}\n- echo never > never\n`,
  });
  return { conf: join(dir, "conf"), pids, root1, root2 };
}

/** Runs safcm, sends `signal` once the command is running, returns what it printed. SIGINT
 * goes to safcm's whole process group, as Ctrl-C on a terminal does; SIGTERM to safcm only,
 * as kill(1) or a service manager's stop does. */
async function interrupted(conf: string, pids: string, signal: NodeJS.Signals, args: string[]) {
  // -j 1: h2 waits for h1, so it is not yet contacted when the signal arrives.
  const child = spawn(process.execPath, [SAFCM, "sync", "-j", "1", "-C", conf, ...args], {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // a process group of its own, like a job of an interactive shell
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  for (let i = 0; !existsSync(join(pids, "ready")); i++) {
    assert.ok(i < 600, `the command did not start: ${stderr}`);
    await sleep(50);
  }
  if (signal === "SIGINT" && child.pid !== undefined) process.kill(-child.pid, signal);
  else child.kill(signal);
  const code = await exited;
  const pidOf = (name: string) => Number(readFileSync(join(pids, name), "utf8"));
  return { code, stdout, stderr, started: ["shell.pid", "child.pid", "stubborn.pid"].map(pidOf) };
}

let sshd: Sshd | undefined;
after(async () => {
  await sshd?.stop();
});

describe("interruption", { concurrency: true }, () => {
  test("SIGINT: exit 130, every process of the command ended, the rest not done", async () => {
    const f = fixture();
    const before2 = snapshot(f.root2);
    const r = await interrupted(f.conf, f.pids, "SIGINT", ["h1", "h2"]);
    assert.equal(r.code, 130, r.stdout + r.stderr);
    for (const pid of r.started) assert.equal(alive(pid), false, `process ${pid} was left running`);
    assert.match(r.stdout, /\[h1\] "\/etc\/motd": created/, "what was done is reported");
    assert.match(r.stdout, /\[h1\] error: interrupted/);
    assert.match(r.stdout, /\[h2\] error: interrupted/);
    assert.equal(existsSync(join(f.root1, "never")), false, "no further command ran");
    assert.deepEqual(snapshot(f.root2), before2, "a host not yet contacted is not changed");
    const leftovers = Object.keys(snapshot(f.root1)).filter((p) => p.includes("safcm"));
    assert.deepEqual(leftovers, [], "no temporary file left in the host's root");
  });

  test("SIGTERM with --json: exit 143, the JSON report on stdout, no process left", async () => {
    const f = fixture();
    const r = await interrupted(f.conf, f.pids, "SIGTERM", ["--json", "h1", "h2"]);
    assert.equal(r.code, 143, r.stderr);
    for (const pid of r.started) assert.equal(alive(pid), false, `process ${pid} was left running`);
    const report = JSON.parse(r.stdout) as Report;
    const [h1, h2] = report.hosts;
    assert.deepEqual(
      h1.files.map((x) => x.path),
      ["/etc", "/etc/motd"],
    );
    assert.equal(h1.ok, false);
    assert.match(h1.error ?? "", /interrupted/);
    assert.equal(h1.commands.length, 1, "the interrupted command is reported, the next never ran");
    assert.notEqual(h1.commands[0].exit_code, 0);
    assert.equal(h2.ok, false);
    assert.match(h2.error ?? "", /interrupted/);
    assert.deepEqual(readdirSync(f.root2), []);
  });

  test("SIGINT over ssh: the remote command ends, the report arrives, exit 130", async () => {
    sshd = await startSshd(["h1", "h2"]);
    const f = fixture(sshd.config);
    const r = await interrupted(f.conf, f.pids, "SIGINT", ["h1", "h2"]);
    assert.equal(r.code, 130, r.stdout + r.stderr);
    for (const pid of r.started) assert.equal(alive(pid), false, `process ${pid} was left running`);
    assert.match(r.stdout, /\[h1\] "\/etc\/motd": created/, "the helper's report arrived");
    assert.match(r.stdout, /\[h1\] error: interrupted: command .* was ended/);
    assert.match(r.stdout, /\[h2\] error: interrupted: the host was not contacted/);
    assert.equal(existsSync(join(f.root1, "never")), false, "no further command ran");
    assert.deepEqual(readdirSync(f.root2), []);
  });

  test("many hosts at once, not interrupted: exit 0 and nothing on standard error", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const names = Array.from({ length: 12 }, (_, i) => `h${i}`);
    for (const name of names) mkdirSync(join(dir, name), { mode: 0o755 });
    writeTree(join(dir, "conf"), {
      "hosts.yaml": names
        .map((n) => `- name: ${n}\n  connection: local\n  root: ${join(dir, n)}\n`)
        .join(""),
      "all/files/etc/motd": "hello\n",
    });
    const r = await safcm(["sync", "-n", "-j", "32", "-C", join(dir, "conf"), "all"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /12 host\(s\): 12 changed/);
  });
});
