// An unprivileged user of a managed host (uid 65534) racing a sync, for the hostile-ground
// tests (SPEC 6, issue 18): scripts run as that user until the test ends their stdin, and
// what that user can read and which ACLs are left afterwards.

import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";

const NOBODY = 65534;

/** Extended ACL entries of `path` (named entries, mask, default ACL); [] when it has none. */
export function extendedAcl(path: string): string[] {
  const r = spawnSync("getfacl", ["-c", "-p", path], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l !== "" && !/^(user|group|other)::/.test(l));
}

/** What uid 65534 gets when reading each file: its content, or the error code. */
export function readAsNobody(paths: string[]): string[] {
  const script = `
    const fs = require("node:fs");
    console.log(JSON.stringify(process.argv.slice(1).map((p) => {
      try { return fs.readFileSync(p, "utf8"); } catch (e) { return e.code; }
    })));`;
  const r = spawnSync(process.execPath, ["-e", script, ...paths], {
    uid: NOBODY,
    gid: NOBODY,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

/** An attacker's program: Node.js source, or Python source (for the ACL loop). */
export type Script = { node: string } | { python: string };

/** A process of uid 65534 running `script` until the test ends its stdin; started when it printed "ready". */
export async function attacker(script: Script, args: string[]): Promise<Attacker> {
  if ("python" in script && !existsSync(PYTHON)) {
    throw new Error(`${PYTHON} is missing: install the package python3 (./scripts/setup.sh does)`);
  }
  const argv =
    "python" in script
      ? [PYTHON, "-c", script.python, ...args]
      : [process.execPath, "-e", script.node, ...args];
  const child = spawn(argv[0], argv.slice(1), {
    uid: NOBODY,
    gid: NOBODY,
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: string) => {
      output += chunk;
      if (output.includes("ready\n")) resolve();
    });
    child.on("exit", () => reject(new Error(`attacker ended early: ${output}`)));
  });
  return {
    child,
    async stop(): Promise<string> {
      const done = new Promise<void>((resolve) => child.on("exit", () => resolve()));
      child.stdin.end();
      await done;
      return output.slice(output.indexOf("ready\n") + "ready\n".length);
    },
  };
}

export interface Attacker {
  child: ChildProcess;
  /** Ends it; returns what it printed after "ready". */
  stop(): Promise<string>;
}

/** Preamble of every attacker script: `loop(body)` runs body until stdin ends, then exits. */
const LOOP = `
const fs = require("node:fs");
const path = require("node:path");
let running = true;
process.stdin.on("end", () => { running = false; });
process.stdin.resume();
const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks for \`ms\` milliseconds (a pause of the loop without a busy wait). */
function pause(ms) { Atomics.wait(sleeper, 0, 0, ms); }
function loop(body) {
  (function next() {
    if (!running) { if (typeof finish === "function") finish(); process.exit(0); }
    for (let i = 0; i < 20; i++) { try { body(); } catch {} }
    setImmediate(next);
  })();
  process.stdout.write("ready\\n");
}
`;

/**
 * Python (Debian's, readable by uid 65534; scripts/setup.sh installs it) for the loops
 * that change extended attributes: os.setxattr is a system call, where Node.js would
 * start a setfacl process for every change (about 2 ms of CPU each, and the fork storm
 * slowed the sync under test as much as the attacker).
 */
const PYTHON = "/usr/bin/python3";

/**
 * Keeps giving uid 65534 a default and an access ACL on the directory argv[1] (F, B,
 * C): setfacl once, then the resulting extended attributes written back every 0.2 ms
 * (the old code's windows were hit as often as in a loop without a pause); with
 * "toggle" (B) every other round removes them instead.
 */
export const ACL_LOOP: Script = {
  python: `
import os, subprocess, sys, threading, time
d = sys.argv[1]
toggle = sys.argv[2:] == ["toggle"]
subprocess.run(["setfacl", "-m", "u:65534:rwx,d:u:65534:rwx,d:m::rwx", d], check=True)
acl = {n: os.getxattr(d, n) for n in ("system.posix_acl_access", "system.posix_acl_default")}
running = True
def wait():
    global running
    sys.stdin.read()
    running = False
threading.Thread(target=wait, daemon=True).start()
print("ready", flush=True)
n = 0
while running:
    n += 1
    for name, value in acl.items():
        try:
            if toggle and n % 2 == 0:
                os.removexattr(d, name)
            else:
                os.setxattr(d, name, value)
        except OSError:
            pass
    time.sleep(0.0002)  # ~5,000 rounds a second at a few percent of a core
`,
};

/** Watches argv[1] (inotify) and opens every temporary file of safcm as it appears (C). */
export const OPEN_TEMPS: Script = {
  node: `${LOOP}
const dir = process.argv[1];
const fds = [];
const tryOpen = (name) => {
  if (!name || !name.includes(".safcm-")) return;
  try { fds.push(fs.openSync(path.join(dir, name), "r")); } catch {}
};
fs.watch(dir, (event, name) => tryOpen(name));
loop(() => { for (const name of fs.readdirSync(dir)) tryOpen(name); });
function finish() {
  for (const fd of fds) {
    const text = fs.readFileSync(fd, "utf8");
    if (text !== "") process.stdout.write(JSON.stringify(text) + "\\n");
  }
}
`,
};

/**
 * Swaps each of the entries argv[3...] of the directory argv[1] in and out of place with
 * the user's own copy (argv[2] "-", B2) or with a symbolic link whose target text is
 * argv[2] (E): moves the root-owned original aside and back, so that the helper sees the
 * original at one moment and the user's entry the next, switching about every 0.5 ms
 * by a busy clock: paused with Atomics.wait instead, it hit E's window against d9feca8 in
 * 3 of 16 rounds instead of 11-12 of 20.
 */
export const SWAP: Script = {
  node: `${LOOP}
const dir = process.argv[1], target = process.argv[2], names = process.argv.slice(3);
const at = (n) => path.join(dir, n);
for (const name of names) {
  if (target === "-") fs.writeFileSync(at(".own-" + name), fs.readFileSync(at(name)));
  else fs.symlinkSync(target, at(".own-" + name));
}
let original = true;
let last = process.hrtime.bigint();
loop(() => {
  const now = process.hrtime.bigint();
  if (now - last < 500000n) return;
  last = now;
  for (const name of names) {
    if (original) {
      fs.renameSync(at(name), at(".orig-" + name));   // original aside
      fs.renameSync(at(".own-" + name), at(name));    // the user's entry in place
    } else {
      fs.renameSync(at(name), at(".own-" + name));    // the user's entry away
      fs.renameSync(at(".orig-" + name), at(name));   // original back
    }
  }
  original = !original;
});
`,
};

/**
 * Makes the entries argv[2...] of the directory argv[1] vanish and come back (renamed
 * aside and back, each state held for 0.2 ms): a look at the directory finds a name that
 * is gone when it is opened (B3).
 */
export const VANISH: Script = {
  node: `${LOOP}
const dir = process.argv[1], names = process.argv.slice(2);
const at = (n) => path.join(dir, n);
loop(() => {
  for (const name of names) fs.renameSync(at(name), at(".gone-" + name));
  pause(0.2);
  for (const name of names) fs.renameSync(at(".gone-" + name), at(name));
  pause(0.2);
});
`,
};
