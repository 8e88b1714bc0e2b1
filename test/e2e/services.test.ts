// End-to-end services (SPEC 5.3) with a STAND-IN systemctl: systemd cannot
// run as PID 1 here, so a small program that answers like systemctl and
// keeps the units' state in a file (test/helpers/systemctl.ts) is put first
// on the PATH of the safcm process; the local helper inherits it. Everything
// else is real: the CLI, the helper, the protocol and the report.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { standInSystemctl, type StandInState } from "../helpers/systemctl.ts";
import { safcm, tempDir, writeTree } from "../helpers/tree.ts";

const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

/** A configuration with the local host "h1" (root "/", no files/) and a stand-in systemctl;
 * `services` are services.yaml's items as YAML text. */
function fixture(services: string[], state: StandInState) {
  const { dir, cleanup } = tempDir();
  cleanups.push(cleanup);
  const conf = join(dir, "conf");
  writeTree(conf, {
    "hosts.yaml": "- name: h1\n  connection: local\n",
    "all/services.yaml": services.map((s) => `- ${s}\n`).join(""),
  });
  const systemctl = standInSystemctl(dir, state);
  const env = { PATH: `${systemctl.bin}:${process.env.PATH ?? ""}` };
  const sync = (...args: string[]) => safcm(["sync", "-C", conf, ...args, "h1"], { env });
  return { systemctl, sync };
}

describe(
  "services with a stand-in systemctl (systemd cannot run as PID 1 here)",
  { concurrency: true },
  () => {
    test("dry-run changes nothing; a run reloads once, then starts and enables; a second run changes nothing", async () => {
      const { systemctl, sync } = fixture(["cron", "nginx"], {
        units: {
          "nginx.service": { active: "inactive", file: "disabled" },
          "cron.service": { active: "active", file: "enabled" },
        },
      });
      const dry = await sync("--dry-run");
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.match(
        dry.stdout,
        /\[h1\] modified 1 service\(s\): \(dry-run\)\n\[h1\] "nginx": started, enabled\n/,
      );
      assert.deepEqual(systemctl.changing(), [], "dry-run only looks");

      const real = await sync();
      assert.equal(real.code, 0, real.stdout + real.stderr);
      assert.match(
        real.stdout,
        /\[h1\] modified 1 service\(s\):\n\[h1\] "nginx": started, enabled\n/,
      );
      assert.deepEqual(systemctl.changing(), [
        "daemon-reload",
        "--no-ask-password start -- nginx",
        "--no-ask-password enable -- nginx",
      ]);
      assert.deepEqual(systemctl.state().units["nginx.service"], {
        active: "active",
        file: "enabled",
      });

      const again = await sync("--json");
      assert.equal(again.code, 0, again.stderr);
      const report = JSON.parse(again.stdout) as { hosts: { services: unknown[] }[] };
      assert.deepEqual(report.hosts[0].services, []);
      assert.equal(systemctl.changing().length, 3, "the second run calls no changing command");
    });

    test("an enabled but stopped unit is only started; JSON reports started and enabled flags", async () => {
      const { systemctl, sync } = fixture(["nginx"], {
        units: { "nginx.service": { active: "failed", file: "enabled" } },
      });
      const r = await sync("--json");
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as { hosts: { services: unknown[] }[] };
      assert.deepEqual(report.hosts[0].services, [
        {
          name: "nginx",
          started: true,
          stopped: false,
          enabled: false,
          disabled: false,
          masked: false,
        },
      ]);
      assert.deepEqual(systemctl.changing(), ["daemon-reload", "--no-ask-password start -- nginx"]);
    });

    test("stopped with enabled: false, masked: stopped, disabled, masked; a second run changes nothing", async () => {
      const { systemctl, sync } = fixture(
        ["name: apache2\n  state: stopped\n  enabled: false", "name: rpcbind\n  state: masked"],
        {
          units: {
            "apache2.service": { active: "active", file: "enabled" },
            "rpcbind.service": { active: "active", file: "enabled" },
          },
        },
      );
      const dry = await sync("--dry-run");
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.equal(
        dry.stdout,
        '[h1] modified 2 service(s): (dry-run)\n[h1] "apache2": stopped, disabled\n[h1] "rpcbind": stopped, masked\n' +
          "1 host(s): 1 changed, 0 unchanged, 0 failed (dry-run)\n",
      );
      assert.deepEqual(systemctl.changing(), []);
      const real = await sync();
      assert.equal(real.code, 0, real.stdout + real.stderr);
      assert.equal(real.stdout, dry.stdout.replaceAll(" (dry-run)", ""));
      assert.deepEqual(systemctl.state().units, {
        "apache2.service": { active: "inactive", file: "disabled" },
        "rpcbind.service": { active: "inactive", file: "masked" },
      });
      const again = await sync();
      assert.equal(again.stdout, "1 host(s): 0 changed, 1 unchanged, 0 failed\n");
    });

    test("a unit systemd does not know fails the host with exit 1", async () => {
      const { systemctl, sync } = fixture(["nginx", "nosuch"], {
        units: { "nginx.service": { active: "inactive", file: "disabled" } },
      });
      const r = await sync();
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /\[h1\] error: unknown service "nosuch" \(no unit "nosuch.service"\)/);
      assert.deepEqual(systemctl.changing(), ["daemon-reload"], "nothing started before the error");
    });

    test("without systemd as init system (is-system-running: offline) a services list fails the host", async () => {
      const { sync } = fixture(["nginx"], { system: "offline", units: {} });
      const r = await sync();
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /\[h1\] error: services need systemd/);
    });
  },
);
