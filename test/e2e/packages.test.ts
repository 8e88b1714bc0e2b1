// End-to-end with the real dpkg and apt (SPEC 5.2, 9): the real CLI syncs a
// local host with root "/" whose configuration has only packages.yaml (no
// files/, so nothing of this machine is touched but the test package).
//
// The package, safcm-test-pkg, is built here with dpkg-deb and served from a
// flat file repository. apt finds it through APT_CONFIG, set for the safcm
// process only (the helper inherits the environment): a configuration file
// that points the source list, the lists and the cache to temporary
// directories, so the system's apt configuration is neither read for sources
// nor changed. The helper runs `apt-get update` itself before installing.
// Needs root and Debian's dpkg and apt; the package is purged afterwards.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { requireProgramsForFile } from "../helpers/programs.ts";
import { safcm, tempDir, writeTree } from "../helpers/tree.ts";

const PKG = "safcm-test-pkg";
const CONFFILE = `/etc/${PKG}.conf`;

function run(command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(command, args, { encoding: "utf8", env: { ...process.env, ...env } });
  assert.equal(r.status, 0, `${command} ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** dpkg's status of the test package: "ii " when installed, "" when dpkg does not know it. */
function status(): string {
  const r = spawnSync("dpkg-query", ["-W", "-f=${db:Status-Abbrev}", PKG], { encoding: "utf8" });
  return r.status === 0 ? r.stdout : "";
}

/** Not installed and no configuration files left ("" or "un "/"pn " for dpkg). */
const gone = (s: string): boolean => s === "" || s[1] === "n";

/** Removes the test package; retries while another dpkg or apt holds dpkg's lock. */
function purge(): void {
  for (let i = 0; i < 120 && !gone(status()); i++) {
    if (spawnSync("dpkg", ["--purge", PKG], { stdio: "ignore" }).status === 0) break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
  rmSync(CONFFILE, { force: true });
  assert.ok(gone(status()), `cannot purge ${PKG}: ${status()}`);
}

/** Builds the .deb into `repo` and writes the repository's Packages and Release files. */
function buildRepository(dir: string, repo: string): void {
  const tree = join(dir, "pkg");
  const control = [
    `Package: ${PKG}`,
    "Version: 1.0",
    "Architecture: all",
    "Maintainer: safcm tests <safcm-tests@example.org>",
    "Section: misc",
    "Priority: optional",
    "Description: test package of safcm's end-to-end tests",
    " It ships one file under /usr/share and one configuration file.",
  ].join("\n");
  writeTree(tree, {
    "DEBIAN/control": control + "\n",
    "DEBIAN/conffiles": `${CONFFILE}\n`,
    [`usr/share/${PKG}/README`]: "installed by safcm's tests\n",
    [`etc/${PKG}.conf`]: "from the package\n",
  });
  const deb = `${PKG}_1.0_all.deb`;
  run("dpkg-deb", ["--root-owner-group", "--build", tree, join(repo, deb)]);
  const data = readFileSync(join(repo, deb));
  const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
  const packages = [
    control,
    `Filename: ./${deb}`,
    `Size: ${data.length}`,
    `SHA256: ${sha256(data)}`,
    "",
  ].join("\n");
  writeFileSync(join(repo, "Packages"), packages);
  const release = [
    "Origin: safcm-tests",
    "Label: safcm-tests",
    `Date: ${new Date().toUTCString().replace("GMT", "UTC")}`,
    "SHA256:",
    ` ${sha256(packages)} ${Buffer.byteLength(packages)} Packages`,
    "",
  ].join("\n");
  writeFileSync(join(repo, "Release"), release);
}

/** An apt configuration whose only source is `repo`, with lists and cache in `dir`. */
function aptConfig(dir: string, repo: string): string {
  for (const d of ["sources.list.d", "lists/partial", "cache/archives/partial"]) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  writeFileSync(join(dir, "sources.list"), `deb [trusted=yes] file:${repo} ./\n`);
  const file = join(dir, "apt.conf");
  writeFileSync(
    file,
    [
      `Dir::Etc::SourceList "${join(dir, "sources.list")}";`,
      `Dir::Etc::SourceParts "${join(dir, "sources.list.d")}";`,
      `Dir::State::Lists "${join(dir, "lists")}";`,
      `Dir::Cache "${join(dir, "cache")}";`,
      "",
    ].join("\n"),
  );
  return file;
}

interface JsonReport {
  hosts: { name: string; ok: boolean; error: string | null; packages: string[] }[];
}

requireProgramsForFile({ "dpkg-deb": "dpkg", "dpkg-query": "dpkg", "apt-get": "apt" });

describe(
  "packages with the real dpkg and apt (local host, root /)",
  { skip: process.getuid?.() !== 0 && "needs root" },
  () => {
    let dir = "";
    let cleanup = (): void => {};
    let env: NodeJS.ProcessEnv = {};

    /** A configuration directory with the local host "h1" (root "/") and `tree`. */
    function config(name: string, tree: Record<string, string>, hosts?: string): string {
      const conf = join(dir, name);
      writeTree(conf, { "hosts.yaml": hosts ?? "- name: h1\n  connection: local\n", ...tree });
      return conf;
    }
    const sync = (conf: string, ...args: string[]) =>
      safcm(["sync", "-C", conf, ...args, "h1"], { env });

    before(() => {
      purge(); // a leftover of an interrupted earlier run
      ({ dir, cleanup } = tempDir("safcm-apt-"));
      const repo = join(dir, "repo");
      mkdirSync(repo);
      buildRepository(dir, repo);
      env = { APT_CONFIG: aptConfig(join(dir, "apt"), repo) };
    });
    after(() => {
      purge();
      cleanup();
    });

    test("dry-run reports the missing package and installs nothing; a run installs it keeping an existing conffile; a second run reports nothing", async () => {
      const conf = config("conf", { "all/packages.yaml": `- ${PKG}\n` });
      // A configuration file that exists before the install (as if synced by
      // safcm): dpkg must keep it (--force-confold), not replace it.
      writeFileSync(CONFFILE, "synced by safcm\n");

      const dry = await sync(conf, "--dry-run");
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.match(
        dry.stdout,
        new RegExp(`\\[h1\\] installed 1 package\\(s\\): \\(dry-run\\)\\n\\[h1\\] "${PKG}"\\n`),
      );
      assert.ok(gone(status()), "dry-run installs nothing");

      const real = await sync(conf);
      assert.equal(real.code, 0, real.stdout + real.stderr);
      assert.match(
        real.stdout,
        new RegExp(`\\[h1\\] installed 1 package\\(s\\):\\n\\[h1\\] "${PKG}"\\n`),
      );
      assert.equal(status(), "ii ");
      assert.ok(statSync(`/usr/share/${PKG}/README`).isFile());
      assert.equal(
        readFileSync(CONFFILE, "utf8"),
        "synced by safcm\n",
        "the existing configuration file is kept",
      );

      const again = await sync(conf, "--json");
      assert.equal(again.code, 0, again.stderr);
      const report = JSON.parse(again.stdout) as JsonReport;
      assert.deepEqual(report.hosts[0].packages, []);
      const human = await sync(conf);
      assert.equal(human.code, 0);
      assert.doesNotMatch(human.stdout, /\[h1\]/, "nothing reported for an installed package");
    });

    test("a package apt does not know fails the host (exit 1) with apt's error", async () => {
      const conf = config("unknown", { "all/packages.yaml": "- safcm-no-such-pkg\n" });
      const r = await sync(conf);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /\[h1\] error: installing "safcm-no-such-pkg" failed: apt-get exited with status 100:/,
      );
      assert.match(r.stdout, /Unable to locate package safcm-no-such-pkg/);
      const json = JSON.parse((await sync(conf, "--json")).stdout) as JsonReport;
      assert.equal(json.hosts[0].ok, false);
      assert.deepEqual(
        json.hosts[0].packages,
        ["safcm-no-such-pkg"],
        "the attempted install is reported",
      );
    });

    test("packages with a host root other than / fail the host before anything is sent", async () => {
      const root = join(dir, "root");
      mkdirSync(root);
      const conf = config(
        "rooted",
        { "all/packages.yaml": `- ${PKG}\n`, "all/commands.yaml": "- touch ran\n" },
        `- name: h1\n  connection: local\n  root: ${root}\n`,
      );
      const r = await sync(conf);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`\\[h1\\] error: packages need root "/", but host "h1" has root "${root}"`),
      );
      assert.ok(!existsSync(join(root, "ran")), "nothing ran");
    });
  },
);
