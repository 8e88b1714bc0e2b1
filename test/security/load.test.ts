// Load: one sync of 100 host aliases against the loopback sshd with -j 32,
// each host into its own root; then one of 30 hosts of which 10 are
// unreachable (a closed port): the other 20 still succeed and the summary
// counts the failures. Afterwards no ssh client of the run and no session (helper) below
// the test's sshd is left, the CLI's peak RSS stays within a generous bound,
// and the local side, run in-process for many hosts (local, ssh, unreachable,
// a missing node), ends with exactly the descriptors it started with.

import assert from "node:assert/strict";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { syncHost } from "../../src/session/host.ts";
import { descendants } from "../helpers/proc.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { safcm, tempDir, writeTree, type Node, type Run } from "../helpers/tree.ts";

const HOSTS = 100;
const DEAD = 10;
/** Hosts of the second sync: 20 reachable next to the DEAD unreachable ones, all 30 at once
 * under -j 32 (the 100 hosts of the first sync prove the scale; this one, that failures stay
 * with their hosts). */
const SOME = 30;
/** Peak resident memory the CLI may use for the 100-host sync (a bound, not a goal). */
const MAX_RSS_MIB = 500;

const aliases = Array.from({ length: HOSTS }, (_, i) => `h${String(i).padStart(3, "0")}`);
const { dir: base, cleanup } = tempDir("safcm-load-");
// The roots on tmpfs when there is one: this test is about connections and
// processes, not about the disk's fsync() speed (100 hosts x 22 files).
const roots = existsSync("/dev/shm")
  ? tempDir("safcm-load-", { parent: "/dev/shm" })
  : { dir: join(base, "roots"), cleanup: () => {} };
const rootsBase = roots.dir;
let sshd: Sshd;

before(async () => {
  sshd = await startSshd(aliases);
  const closedPort = sshd.port === 1 ? 2 : 1;
  appendFileSync(
    sshd.config,
    ["Host dead*", "  HostName 127.0.0.1", `  Port ${closedPort}`, "  ConnectTimeout 5", ""].join(
      "\n",
    ),
  );
});
after(async () => {
  // undefined when the set-up failed: then there is nothing to stop
  await (sshd as Sshd | undefined)?.stop();
  cleanup();
  roots.cleanup();
});

/** A configuration for `hosts` (each with its own root below `dir`): 20 small files and one of 256 KiB. */
function configure(dir: string, hosts: string[], extra: Record<string, string> = {}): string {
  const conf = join(dir, "conf");
  const tree: Record<string, Node> = {
    // No connection reuse: its masters keep sessions open on purpose (test/e2e/ssh-reuse.test.ts).
    "config.yaml": `ssh_config: ${sshd.config}\nssh_persist: 0\n`,
    "hosts.yaml": hosts
      .map((h) => {
        const root = join(rootsBase, dir.slice(base.length), h);
        mkdirSync(root, { recursive: true, mode: 0o755 });
        return `- name: ${h}\n  root: ${root}\n${extra[h] ?? ""}`;
      })
      .join(""),
    "all/files/etc/big": Buffer.alloc(256 * 1024, "x"),
    "all/files/etc/motd": "{{ host }}\n",
    "all/templates.yaml": "- /etc/motd\n",
  };
  for (let i = 0; i < 20; i++) tree[`all/files/etc/small/f${i}`] = `file ${i}\n`;
  writeTree(conf, tree);
  return conf;
}

/** Runs the CLI, recording its peak RSS (KiB) through a preloaded exit hook. */
async function runMeasured(dir: string, args: string[]): Promise<Run & { maxRssMiB: number }> {
  const hook = join(dir, "max-rss.mjs");
  const out = join(dir, "max-rss");
  writeFileSync(
    hook,
    `import { writeFileSync } from "node:fs";\n` +
      `process.on("exit", () => writeFileSync(${JSON.stringify(out)}, String(process.resourceUsage().maxRSS)));\n`,
  );
  const r = await safcm(args, { nodeArgs: ["--import", hook] });
  return { ...r, maxRssMiB: Number(readFileSync(out, "utf8")) / 1024 };
}

/** Processes whose command line contains `text` (read from /proc, so it needs no procps). */
function pgrep(text: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue; // exited meanwhile
    }
    if (cmdline.includes(text)) found.push(`${name} ${cmdline}`);
  }
  return found;
}

/** Every process below `pid`, one line each: pid and command line. */
function below(pid: number): string[] {
  return descendants(pid).map((p) => `${p.pid} ${p.command}`);
}

/** Waits (a few seconds at most) until `probe` finds nothing; returns what is left. */
async function settled(probe: () => string[]): Promise<string[]> {
  let left = probe();
  for (let i = 0; i < 50 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = probe();
  }
  return left;
}

const openFds = (): number => readdirSync("/proc/self/fd").length;

describe("load", { concurrency: false }, () => {
  test(`${HOSTS} hosts over ssh with -j 32: all succeed; then ${DEAD} unreachable of ${SOME} fail alone; no leak, bounded memory`, async () => {
    const sshdPid = Number(readFileSync(join(sshd.dir, "sshd.pid"), "utf8"));
    const all = join(base, "all-up");
    const conf = configure(all, aliases);
    const first = await runMeasured(all, ["sync", "-C", conf, "-j", "32", "all"]);
    assert.equal(first.code, 0, first.stdout.slice(-2000) + first.stderr.slice(-2000));
    assert.match(
      first.stdout,
      new RegExp(`^${HOSTS} host\\(s\\): ${HOSTS} changed, 0 unchanged, 0 failed$`, "m"),
    );
    for (const h of aliases) {
      assert.equal(readFileSync(join(rootsBase, "all-up", h, "etc/motd"), "utf8"), `${h}\n`);
    }
    process.stdout.write(
      `# load: peak RSS of the CLI syncing ${HOSTS} hosts: ${first.maxRssMiB.toFixed(1)} MiB\n`,
    );
    assert.ok(first.maxRssMiB < MAX_RSS_MIB, `peak RSS ${first.maxRssMiB} MiB`);
    assert.deepEqual(await settled(() => pgrep(all)), [], "no ssh client of the run is left");
    assert.deepEqual(await settled(() => below(sshdPid)), [], "no session or helper is left");

    const some = join(base, "some-down");
    const hosts = [
      ...aliases.slice(0, SOME - DEAD),
      ...Array.from({ length: DEAD }, (_, i) => `dead${i}`),
    ];
    const conf2 = configure(some, hosts);
    const second = await runMeasured(some, ["sync", "-C", conf2, "-j", "32", "all"]);
    assert.equal(second.code, 1, second.stderr);
    assert.match(
      second.stdout,
      new RegExp(`^${SOME} host\\(s\\): ${SOME - DEAD} changed, 0 unchanged, ${DEAD} failed$`, "m"),
    );
    for (let i = 0; i < DEAD; i++)
      assert.match(second.stdout, new RegExp(`^\\[dead${i}\\] error: `, "m"));
    for (const h of aliases.slice(0, SOME - DEAD)) {
      assert.equal(readFileSync(join(rootsBase, "some-down", h, "etc/motd"), "utf8"), `${h}\n`);
    }
    process.stdout.write(
      `# load: peak RSS with ${DEAD} hosts down: ${second.maxRssMiB.toFixed(1)} MiB\n`,
    );
    assert.ok(second.maxRssMiB < MAX_RSS_MIB, `peak RSS ${second.maxRssMiB} MiB`);
    assert.deepEqual(await settled(() => pgrep(some)), [], "no ssh client of the run is left");
    assert.deepEqual(await settled(() => below(sshdPid)), [], "no session or helper is left");
  });

  test("the local side closes every descriptor it opens (in-process: local, ssh, unreachable, missing node)", async () => {
    const dir = join(base, "in-process");
    const local = Array.from({ length: 10 }, (_, i) => `local${i}`);
    const ssh = aliases.slice(0, 4);
    const dead = ["dead0", "dead1"];
    const nonode = ["nonode0", "nonode1"];
    const extra: Record<string, string> = {};
    for (const h of local) extra[h] = "  connection: local\n";
    for (const h of nonode)
      extra[h] = "  connection: local\n  node: /nonexistent/node\n  runtime: host\n";
    const conf = configure(dir, [...local, ...ssh, ...dead, ...nonode], extra);
    const config = loadConfig(conf);
    const run = () =>
      Promise.all(
        config.hosts.map((h) =>
          syncHost(config, h, { dryRun: false, timeoutMs: 60_000, onLog: () => {} }),
        ),
      );
    await run(); // warm-up: module loading, the helper bundle read once
    const before = openFds();
    for (let round = 0; round < 1; round++) {
      const results = await run();
      const failed = results
        .filter((r) => !r.ok)
        .map((r) => r.name)
        .sort();
      assert.deepEqual(failed, [...dead, ...nonode].sort());
    }
    const left = await settled(() =>
      openFds() > before ? [`${openFds() - before} more descriptors`] : [],
    );
    assert.deepEqual(left, [], "no descriptor leaked");
    assert.deepEqual(await settled(() => pgrep(dir)), [], "no ssh client left");
  });
});
