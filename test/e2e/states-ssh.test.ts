// Packages and services in their stated states (SPEC 3.5, 5.2, 5.3) end to
// end over ssh: the real CLI against a private sshd on 127.0.0.1, host root
// "/". Packages use the real dpkg and apt with a local repository
// (test/helpers/apt.ts); sshd hands the session APT_CONFIG with SetEnv, as
// the helper's environment is sshd's, not this process's. Services use a
// STAND-IN systemctl (systemd cannot run as PID 1 here, test/helpers/
// systemctl.ts), put first on the session's PATH the same way. Everything
// else is real: ssh, the helper, the protocol and the report.

import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  aptConfig,
  buildRepository,
  dpkgInstall,
  dpkgStatus,
  gone,
  purge,
  type TestPackage,
} from "../helpers/apt.ts";
import { requireProgramsForFile } from "../helpers/programs.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { standInSystemctl, type StandIn } from "../helpers/systemctl.ts";
import { safcm, tempDir, writeTree } from "../helpers/tree.ts";

requireProgramsForFile({ "dpkg-deb": "dpkg", "dpkg-query": "dpkg", "apt-get": "apt" });

/** Names of their own: the local-connection test (packages.test.ts) runs at the same time. */
const OLD = "safcm-ssh-old";
const NEW = "safcm-ssh-new";
const PACKAGES: TestPackage[] = [
  {
    name: OLD,
    description: " To be removed; it ships a configuration file.",
    tree: {
      "DEBIAN/conffiles": `/etc/${OLD}.conf\n`,
      [`etc/${OLD}.conf`]: "from the package\n",
    },
  },
  { name: NEW, description: " To be installed.", tree: { [`usr/share/${NEW}/README`]: "x\n" } },
];

interface JsonHost {
  ok: boolean;
  error: string | null;
  packages: { name: string; action: string }[];
  services: Record<string, string | boolean>[];
}

describe(
  "packages and services over ssh",
  { skip: process.getuid?.() !== 0 && "needs root" },
  () => {
    let sshd: Sshd | undefined;
    let dir = "";
    let cleanup = (): void => {};
    let repo = "";
    let systemctl: StandIn;

    const cleanUp = (): void => {
      for (const p of [OLD, NEW]) purge(p);
    };
    before(async () => {
      cleanUp();
      ({ dir, cleanup } = tempDir("safcm-states-ssh-"));
      repo = join(dir, "repo");
      buildRepository(dir, repo, PACKAGES);
      const apt = aptConfig(join(dir, "apt"), repo);
      mkdirSync(join(dir, "systemctl"));
      systemctl = standInSystemctl(join(dir, "systemctl"), {
        units: {
          "nginx.service": { active: "inactive", file: "disabled" },
          "apache2.service": { active: "active", file: "enabled" },
          "rpcbind.service": { active: "active", file: "enabled" },
        },
      });
      const path = `${systemctl.bin}:${process.env.PATH ?? "/usr/bin:/bin"}`;
      sshd = await startSshd(["h1"], `SetEnv APT_CONFIG=${apt} PATH=${path}\n`);
    });
    after(async () => {
      await sshd?.stop();
      cleanUp();
      cleanup();
    });

    /** A configuration of host h1 (root "/") over the test sshd. */
    function config(name: string, tree: Record<string, string>): string {
      const conf = join(dir, name);
      writeTree(conf, {
        "config.yaml": `ssh_config: ${sshd?.config ?? ""}\n`,
        "hosts.yaml": "- name: h1\n",
        ...tree,
      });
      return conf;
    }
    const sync = (conf: string, ...args: string[]) => safcm(["sync", "-C", conf, ...args, "h1"]);

    test("a package removed (conffiles kept) and one installed; then nothing", async () => {
      dpkgInstall(repo, OLD);
      const conf = config("packages", {
        "all/packages.yaml": `- ${NEW}\n`,
        "h1/packages.yaml": `- name: ${OLD}\n  state: absent\n`,
      });
      const r = await sync(conf);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(
        r.stdout,
        `[h1] removed 1 package(s):\n[h1] "${OLD}"\n[h1] installed 1 package(s):\n[h1] "${NEW}"\n` +
          "1 host(s): 1 changed, 0 unchanged, 0 failed\n",
      );
      assert.deepEqual([dpkgStatus(OLD), dpkgStatus(NEW)], ["rc ", "ii "]);
      assert.ok(existsSync(`/etc/${OLD}.conf`), "configuration file kept");

      const again = await sync(conf, "--json");
      assert.equal(again.code, 0, again.stderr);
      const host = (JSON.parse(again.stdout) as { hosts: JsonHost[] }).hosts[0];
      assert.deepEqual([host.ok, host.packages], [true, []]);
      purge(OLD);
      assert.ok(gone(dpkgStatus(OLD)));
    });

    test("services stopped and disabled, masked, started: reported as done (stand-in systemctl)", async () => {
      const conf = config("services", {
        "all/services.yaml": "- nginx\n- name: apache2\n  state: stopped\n  enabled: false\n",
        "h1/services.yaml": "- name: rpcbind\n  state: masked\n",
      });
      const dry = await sync(conf, "--dry-run");
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.deepEqual(systemctl.changing(), [], "dry-run only looks");

      const r = await sync(conf, "--json");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const host = (JSON.parse(r.stdout) as { hosts: JsonHost[] }).hosts[0];
      const done = (name: string, ...flags: string[]) => ({
        name,
        ...Object.fromEntries(
          ["started", "stopped", "enabled", "disabled", "masked"].map((f) => [
            f,
            flags.includes(f),
          ]),
        ),
      });
      assert.deepEqual(host.services, [
        done("nginx", "started", "enabled"),
        done("apache2", "stopped", "disabled"),
        done("rpcbind", "stopped", "masked"),
      ]);
      assert.deepEqual(systemctl.state().units, {
        "nginx.service": { active: "active", file: "enabled" },
        "apache2.service": { active: "inactive", file: "disabled" },
        "rpcbind.service": { active: "inactive", file: "masked" },
      });
      const again = await sync(conf);
      assert.equal(again.stdout, "1 host(s): 0 changed, 1 unchanged, 0 failed\n");
    });
  },
);
