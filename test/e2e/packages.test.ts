// End-to-end with the real dpkg and apt (SPEC 5.2, 9): the real CLI syncs a
// local host with root "/" whose configuration has only packages.yaml (no
// files/, so nothing of this machine is touched but the test package).
//
// The package, safcm-test-pkg, is built here with dpkg-deb and served from a
// flat file repository. apt finds it through APT_CONFIG, set by an `apt-get`
// wrapper first in the PATH of the safcm process (the local helper keeps PATH
// but no other variable of the workstation, SPEC 3.5): a configuration file
// that points the source list, the lists and the cache to temporary
// directories, so the system's apt configuration is neither read for sources
// nor changed. The helper runs `apt-get update` itself before installing.
// Needs root and Debian's dpkg and apt; the package is purged afterwards.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  aptConfig,
  buildRepository,
  dpkgInstall,
  dpkgStatus,
  gone,
  purge as purgePackage,
  type TestPackage,
} from "../helpers/apt.ts";
import { requireProgram, requireProgramsForFile } from "../helpers/programs.ts";
import { safcm, tempDir, writeTree } from "../helpers/tree.ts";
import { validator } from "../schemas/validate.ts";

const PKG = "safcm-test-pkg";
const CONFFILE = `/etc/${PKG}.conf`;
/** A package whose postinst creates the system user of the same name. */
const USER_PKG = "safcm-test-user";
/** A file owned by that user, synced by the test. */
const OWNED = `/etc/${USER_PKG}.conf`;
/** Depends on PKG: removing PKG would remove it too. */
const DEP_PKG = "safcm-test-dep";
/** Recommends REC_TARGET (like fail2ban recommends python3-systemd). */
const REC_PKG = "safcm-test-rec";
const REC_TARGET = "safcm-test-recd";

const status = (name = PKG): string => dpkgStatus(name);

/** Removes a test package (and PKG's configuration file). */
function purge(name = PKG): void {
  purgePackage(name);
  if (name === PKG) rmSync(CONFFILE, { force: true });
}

const TEST_PACKAGES: TestPackage[] = [
  {
    name: PKG,
    description: " It ships one file under /usr/share and one configuration file.",
    tree: {
      "DEBIAN/conffiles": `${CONFFILE}\n`,
      [`usr/share/${PKG}/README`]: "installed by safcm's tests\n",
      [`etc/${PKG}.conf`]: "from the package\n",
    },
  },
  {
    // Like redis-server: its postinst creates the system user that owns its files.
    name: USER_PKG,
    description: " Its postinst creates a system user.",
    tree: {
      "DEBIAN/postinst": {
        content: `#!/bin/sh\nset -e\nif [ "$1" = configure ] && ! getent passwd ${USER_PKG} >/dev/null; then\n  useradd --system --user-group --no-create-home ${USER_PKG}\nfi\n`,
        mode: 0o755,
      },
      "DEBIAN/postrm": {
        content: `#!/bin/sh\nset -e\nif [ "$1" = purge ]; then userdel ${USER_PKG} || true; fi\n`,
        mode: 0o755,
      },
    },
  },
  {
    name: DEP_PKG,
    description: ` It depends on ${PKG}.`,
    control: [`Depends: ${PKG}`],
    tree: { [`usr/share/${DEP_PKG}/README`]: "x\n" },
  },
  {
    name: REC_PKG,
    description: ` It recommends ${REC_TARGET}.`,
    control: [`Recommends: ${REC_TARGET}`],
    tree: { [`usr/share/${REC_PKG}/README`]: "x\n" },
  },
  {
    name: REC_TARGET,
    description: " It is recommended.",
    tree: { [`usr/share/${REC_TARGET}/README`]: "x\n" },
  },
];

interface JsonReport {
  hosts: {
    name: string;
    ok: boolean;
    error: string | null;
    packages: { name: string; action: "installed" | "removed" }[];
    files: {
      path: string;
      new: { user: string | null; uid: number | null };
      waits_for_owner?: string;
    }[];
    commands: { command: string; trigger: string | null; output: string | null }[];
  }[];
}

requireProgramsForFile({ "dpkg-deb": "dpkg", "dpkg-query": "dpkg", "apt-get": "apt" });

/**
 * The environment for safcm that makes the helper's apt-get use `config` (APT_CONFIG): an
 * `apt-get` wrapper first on PATH, since the local helper starts with a login's
 * environment, not safcm's (SPEC 3.5), and PATH is the one variable it keeps.
 */
function aptEnv(config: string): NodeJS.ProcessEnv {
  const bin = `${config}.bin`;
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, "apt-get"),
    `#!/bin/sh\nAPT_CONFIG='${config}' exec '${requireProgram("apt-get", "apt")}' "$@"\n`,
    { mode: 0o755 },
  );
  return { PATH: `${bin}:${process.env.PATH ?? ""}` };
}

describe(
  "packages with the real dpkg and apt (local host, root /)",
  { skip: process.getuid?.() !== 0 && "needs root" },
  () => {
    let dir = "";
    let cleanup = (): void => {};
    let env: NodeJS.ProcessEnv = {};
    let repo = "";

    /** A configuration directory with the local host "h1" (root "/") and `tree`. */
    function config(name: string, tree: Record<string, string>, hosts?: string): string {
      const conf = join(dir, name);
      writeTree(conf, { "hosts.yaml": hosts ?? "- name: h1\n  connection: local\n", ...tree });
      return conf;
    }
    const sync = (conf: string, ...args: string[]) =>
      safcm(["sync", "-C", conf, ...args, "h1"], { env });

    const cleanUp = (): void => {
      for (const p of [DEP_PKG, REC_PKG, REC_TARGET]) purge(p);
      purge();
      purge(USER_PKG);
      spawnSync("userdel", [USER_PKG], { stdio: "ignore" });
      rmSync(OWNED, { force: true });
    };
    before(() => {
      cleanUp(); // a leftover of an interrupted earlier run
      ({ dir, cleanup } = tempDir("safcm-apt-"));
      repo = join(dir, "repo");
      buildRepository(dir, repo, TEST_PACKAGES);
      env = aptEnv(aptConfig(join(dir, "apt"), repo));
    });
    after(() => {
      cleanUp();
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

    test("a file owned by the user a package creates converges in one sync; triggers see it; the next sync is unchanged", async () => {
      // As found (issue 9, item 7): /etc/redis/redis.conf owned by redis plus
      // redis-server in packages.yaml failed on every run on a fresh host.
      const conf = config("owned", {
        "all/packages.yaml": `- ${USER_PKG}\n`,
        [`all/files${OWNED}`]: "owned by the package's user\n",
        "all/permissions.yaml": `${OWNED}: 0640 ${USER_PKG} ${USER_PKG}\n`,
        "all/triggers.yaml": `${OWNED}:\n  - echo fired\n`,
      });
      // A dry-run reports the file like every other change, marked as waiting for its owner.
      const dry = await sync(conf, "-n");
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.ok(
        dry.stdout.includes(
          `"${OWNED}": created, file, ${USER_PKG}(?) ${USER_PKG}(?), 0640 (waits for "${USER_PKG}")`,
        ),
        dry.stdout,
      );
      const dryJson = (JSON.parse((await sync(conf, "-n", "--json")).stdout) as JsonReport)
        .hosts[0];
      assert.deepEqual(
        dryJson.files.map((f) => [f.path, f.new.user, f.new.uid, f.waits_for_owner]),
        [[OWNED, USER_PKG, null, USER_PKG]],
      );
      const r = await sync(conf, "--json");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const host = (JSON.parse(r.stdout) as JsonReport).hosts[0];
      assert.deepEqual(host.packages, [{ name: USER_PKG, action: "installed" }]);
      assert.deepEqual(
        host.files.map((f) => [f.path, f.new.user]),
        [[OWNED, USER_PKG]],
      );
      assert.deepEqual(
        host.commands.map((c) => [c.command, c.trigger, c.output]),
        [["echo fired", OWNED, "fired\n"]],
        "the trigger sees the file written after the packages",
      );
      const uid = Number(spawnSync("id", ["-u", USER_PKG], { encoding: "utf8" }).stdout);
      const st = statSync(OWNED);
      assert.deepEqual([st.uid, st.mode & 0o7777], [uid, 0o640]);
      assert.equal(readFileSync(OWNED, "utf8"), "owned by the package's user\n");

      const again = JSON.parse((await sync(conf, "--json")).stdout) as JsonReport;
      assert.equal(again.hosts[0].ok, true);
      assert.deepEqual([again.hosts[0].files, again.hosts[0].packages], [[], []]);
    });

    test("an unknown owner without packages to install fails before any change", async () => {
      const path = "/etc/safcm-test-unknown-owner.conf";
      const conf = config("unknown-owner", {
        [`all/files${path}`]: "x\n",
        "all/permissions.yaml": `${path}: 0640 safcm-no-such-user root\n`,
      });
      const r = await sync(conf);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /unknown user "safcm-no-such-user"/);
      assert.ok(!existsSync(path));
    });

    test("an owner that no package creates: the dry-run marks it waiting, the sync names it after the install", async () => {
      const path = "/etc/safcm-test-typo-owner.conf";
      const conf = config("typo-owner", {
        "all/packages.yaml": `- ${USER_PKG}\n`,
        [`all/files${path}`]: "x\n",
        "all/permissions.yaml": `${path}: 0640 safcm-typo-user root\n`,
      });
      const dry = await sync(conf, "-n");
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.match(dry.stdout, /\(waits for "safcm-typo-user"\)/);
      const r = await sync(conf);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /unknown user "safcm-typo-user" even after the packages were installed: no package created it/,
      );
      assert.ok(!existsSync(path));
    });

    test("with only packages to remove, an unknown owner fails before any change (nothing removed)", async () => {
      // A removal creates no user, so nothing can wait for one (SPEC 5 step 4).
      purge();
      dpkgInstall(repo, PKG);
      const path = "/etc/safcm-test-unknown-owner2.conf";
      const conf = config("unknown-owner-absent", {
        "all/packages.yaml": `- name: ${PKG}\n  state: absent\n`,
        [`all/files${path}`]: "x\n",
        "all/permissions.yaml": `${path}: 0640 safcm-no-such-user root\n`,
      });
      const r = await sync(conf);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /unknown user "safcm-no-such-user"/);
      assert.ok(!existsSync(path));
      assert.equal(status(), "ii ", "nothing removed");
    });

    test("a failed install is never reported as installed: the error names what is missing and shows apt's lines", async () => {
      // As found (issue 19, item 4): `installed 1 package(s): "no-such-package"`, then the error.
      purge();
      const conf = config("unknown", {
        "all/packages.yaml": `- ${PKG}\n- safcm-no-such-pkg\n`,
      });
      const r = await sync(conf);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout, /installed \d+ package/);
      assert.match(
        r.stdout,
        new RegExp(
          `\\[h1\\] error: apt-get install failed \\(exit status 100\\); not installed: "${PKG}", "safcm-no-such-pkg":\\n`,
        ),
      );
      assert.match(r.stdout, /\n {3}E: Unable to locate package safcm-no-such-pkg\n/);
      assert.ok(gone(status()), "apt installed nothing");
      const json = JSON.parse((await sync(conf, "--json")).stdout) as JsonReport;
      assert.equal(json.hosts[0].ok, false);
      assert.deepEqual(json.hosts[0].packages, [], "nothing is reported installed");
      assert.match(
        String(json.hosts[0].error),
        /not installed: "safcm-test-pkg", "safcm-no-such-pkg"/,
      );
    });

    test("apt-get update's warnings reach the report at info level although it exits 0", async () => {
      // As found (issue 19, item 5): with a mirror that cannot be reached, only the install's
      // "Unable to locate package" was shown. Port 1 of 127.0.0.1 refuses at once, as a name
      // that does not resolve fails at once.
      purge();
      const broken = aptEnv(
        aptConfig(join(dir, "apt-broken"), repo, [
          "deb [trusted=yes] http://127.0.0.1:1/debian ./",
        ]),
      );
      const conf = config("mirror", { "all/packages.yaml": `- ${PKG}\n` });
      const r = await safcm(["sync", "-C", conf, "h1"], { env: broken });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stderr, /\[h1\] info: apt-get update:\n/);
      assert.match(r.stderr, /\[h1\] info: Err:\d+ http:\/\/127\.0\.0\.1:1\/debian \.\/ /);
      assert.match(r.stderr, /\[h1\] info: W: Failed to fetch http:\/\/127\.0\.0\.1:1\/debian\//);
      assert.match(
        r.stdout,
        new RegExp(`\\[h1\\] installed 1 package\\(s\\):\\n\\[h1\\] "${PKG}"\\n`),
      );
      assert.equal(status(), "ii ");
    });

    test("state: absent removes with apt-get remove (configuration files kept); dry-run first; then nothing", async () => {
      purge();
      dpkgInstall(repo, PKG);
      writeFileSync(CONFFILE, "changed by the administrator\n");
      const conf = config("absent", {
        "all/packages.yaml": `- name: ${PKG}\n  state: absent\n`,
      });
      const dry = await sync(conf, "--dry-run");
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.equal(
        dry.stdout,
        `[h1] removed 1 package(s): (dry-run)\n[h1] "${PKG}"\n1 host(s): 1 changed, 0 unchanged, 0 failed (dry-run)\n`,
      );
      assert.equal(status(), "ii ", "dry-run removes nothing");

      const r = await sync(conf, "--json");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout) as JsonReport;
      assert.ok(validator("report")(report), JSON.stringify(validator("report").errors));
      assert.deepEqual(report.hosts[0].packages, [{ name: PKG, action: "removed" }]);
      assert.equal(status(), "rc ", "removed, its configuration files kept");
      assert.equal(readFileSync(CONFFILE, "utf8"), "changed by the administrator\n");
      assert.ok(!existsSync(`/usr/share/${PKG}/README`));

      const again = await sync(conf);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.equal(again.stdout, "1 host(s): 0 changed, 1 unchanged, 0 failed\n");
    });

    test("a removal that would take another package with it changes nothing, in dry-run too", async () => {
      purge(DEP_PKG);
      purge();
      dpkgInstall(repo, PKG);
      dpkgInstall(repo, DEP_PKG);
      const conf = config("absent-dep", {
        "all/packages.yaml": `- name: ${PKG}\n  state: absent\n`,
      });
      for (const args of [["--dry-run"], []]) {
        const r = await sync(conf, ...args);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(
          r.stdout,
          new RegExp(
            `\\[h1\\] error: removing "${PKG}" would also remove "${DEP_PKG}", which depend on it; nothing was removed`,
          ),
        );
        assert.deepEqual([status(), status(DEP_PKG)], ["ii ", "ii "]);
      }
      purge(DEP_PKG);
    });

    test("packages install without their Recommends unless recommends: true; check -l verbose lists them", async () => {
      for (const p of [REC_PKG, REC_TARGET]) purge(p);
      const bare = config("rec-bare", { "all/packages.yaml": `- ${REC_PKG}\n` });
      const check = await safcm(["check", "-C", bare, "-l", "verbose"]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.match(
        check.stdout,
        new RegExp(
          `^host "h1": installed without their Recommends \\(recommends: true in packages.yaml installs them\\): "${REC_PKG}"$`,
          "m",
        ),
      );
      const r = await sync(bare);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(status(REC_PKG), "ii ");
      assert.ok(gone(status(REC_TARGET)), "its Recommends are not installed");

      purge(REC_PKG);
      const withRec = config("rec", {
        "all/packages.yaml": `- name: ${REC_PKG}\n  recommends: true\n`,
      });
      const quiet = await safcm(["check", "-C", withRec, "-l", "verbose"]);
      assert.doesNotMatch(quiet.stdout, /without their Recommends/);
      const json = JSON.parse((await sync(withRec, "--json")).stdout) as JsonReport;
      assert.equal(json.hosts[0].ok, true, String(json.hosts[0].error));
      assert.deepEqual(json.hosts[0].packages, [{ name: REC_PKG, action: "installed" }]);
      assert.deepEqual([status(REC_PKG), status(REC_TARGET)], ["ii ", "ii "]);
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
