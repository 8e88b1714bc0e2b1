// Services (SPEC 5.3): the `systemctl show` parser and the decision per unit
// against recorded outputs (cases as data in test/fixtures/systemctl-show/),
// and syncServices against a stand-in systemctl, because systemd cannot run
// as PID 1 here (test/helpers/systemctl.ts).

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";
import { UNIT_NAME as LOCAL_UNIT_NAME } from "../../src/config/names.ts";
import type { ServiceChange, ServiceEntry } from "../../src/protocol/messages.ts";
import {
  UNIT_NAME,
  decideUnit,
  parseSystemctlShow,
  syncServices,
} from "../../src/remote/services.ts";
import { standInSystemctl, type StandInState } from "../helpers/systemctl.ts";
import { removeDir, tempDir } from "../remote/util.ts";

/** A unit as services.yaml states it: a name (started) or an entry. */
type Unit = string | { name: string; state: ServiceEntry["state"]; enabled?: boolean };

interface Case {
  comment?: string;
  units: Unit[];
  output: string;
  /** Per unit: the verbs it needs (absent: false) and its error. */
  decisions?: (Partial<Record<Verb, boolean>> & { error: string | null })[];
  error?: string;
}

const VERBS = ["start", "stop", "enable", "disable", "mask"] as const;
type Verb = (typeof VERBS)[number];

function entry(u: Unit): ServiceEntry {
  return typeof u === "string"
    ? { name: u, state: "started", enabled: null }
    : { name: u.name, state: u.state, enabled: u.enabled ?? null };
}

/** Units as plain services.yaml names: started and enabled. */
const started = (...names: string[]): ServiceEntry[] => names.map((n) => entry(n));

/** A change with the flags in `done` true. */
function change(name: string, ...done: (keyof Omit<ServiceChange, "name">)[]): ServiceChange {
  const flag = (f: keyof Omit<ServiceChange, "name">) => done.includes(f);
  return {
    name,
    started: flag("started"),
    stopped: flag("stopped"),
    enabled: flag("enabled"),
    disabled: flag("disabled"),
    masked: flag("masked"),
  };
}

const FIXTURES = new URL("../fixtures/systemctl-show/", import.meta.url);

describe("systemctl show output", () => {
  for (const file of readdirSync(FIXTURES).sort()) {
    const c = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8")) as Case;
    test(`${file}${c.comment !== undefined ? `: ${c.comment}` : ""}`, () => {
      if (c.error !== undefined) {
        assert.throws(() => parseSystemctlShow(c.output), { message: new RegExp(c.error) });
        return;
      }
      const states = parseSystemctlShow(c.output);
      assert.equal(states.length, c.units.length);
      const decisions = c.units.map((u, i) => decideUnit(entry(u), states[i]));
      const verbs = (d: Partial<Record<Verb, boolean>>) => VERBS.filter((v) => d[v] === true);
      assert.deepEqual(decisions.map(verbs), c.decisions?.map(verbs));
      c.decisions?.forEach((want, i) => {
        if (want.error === null) assert.equal(decisions[i].error, null);
        else assert.ok(decisions[i].error?.includes(want.error), decisions[i].error ?? "no error");
      });
    });
  }
});

test("unit names: the helper and the local check agree", () => {
  for (const name of [
    "nginx",
    "nginx.service",
    "getty@tty1.service",
    "systemd-fsck@dev-disk-by\\x2duuid-1.service",
    "a:b_c",
  ]) {
    assert.ok(UNIT_NAME.test(name) && LOCAL_UNIT_NAME.test(name), name);
  }
  for (const name of ["--now", "-nginx", "", "nginx service", "a/b", "x".repeat(256), "ngi\nnx"]) {
    assert.ok(!UNIT_NAME.test(name) && !LOCAL_UNIT_NAME.test(name), JSON.stringify(name));
  }
});

describe("syncServices with a stand-in systemctl (systemd cannot run as PID 1 here)", () => {
  async function withStandIn(
    state: StandInState,
    fn: (s: ReturnType<typeof standInSystemctl>) => Promise<void>,
  ): Promise<void> {
    const dir = tempDir();
    try {
      await fn(standInSystemctl(dir, state));
    } finally {
      removeDir(dir);
    }
  }

  test("daemon-reload once, then start and enable only what is needed; then nothing", () =>
    withStandIn(
      {
        units: {
          "nginx.service": { active: "inactive", file: "disabled" },
          "cron.service": { active: "active", file: "enabled" },
          "ssh.service": { active: "active", file: "disabled" },
        },
      },
      async (s) => {
        const input = {
          root: "/",
          services: started("cron", "nginx", "ssh"),
          apply: true,
          path: s.bin,
        };
        const r = await syncServices(input);
        assert.equal(r.error, null);
        assert.deepEqual(r.changes, [
          change("nginx", "started", "enabled"),
          change("ssh", "enabled"),
        ]);
        assert.deepEqual(s.changing(), [
          "daemon-reload",
          "--no-ask-password start -- nginx",
          "--no-ask-password enable -- nginx",
          "--no-ask-password enable -- ssh",
        ]);
        const again = await syncServices(input);
        assert.deepEqual(again, { changes: [], error: null });
        assert.equal(s.changing().length, 4, "the second run changes nothing");
      },
    ));

  test("stopped, disabled and masked: stop, disable, mask (mask before stop); then nothing", () =>
    withStandIn(
      {
        units: {
          "apache2.service": { active: "active", file: "enabled" },
          "rpcbind.service": { active: "active", file: "enabled" },
          "cron.service": { active: "active", file: "enabled" },
        },
      },
      async (s) => {
        const input = {
          root: "/",
          services: [
            { name: "apache2", state: "stopped" as const, enabled: false },
            { name: "rpcbind", state: "masked" as const, enabled: null },
            { name: "cron", state: "started" as const, enabled: false },
          ],
          apply: true,
          path: s.bin,
        };
        const dry = await syncServices({ ...input, apply: false });
        const expected = [
          change("apache2", "stopped", "disabled"),
          change("rpcbind", "stopped", "masked"),
          change("cron", "disabled"),
        ];
        assert.deepEqual(dry, { changes: expected, error: null });
        assert.deepEqual(s.changing(), [], "dry-run only looks");

        const r = await syncServices(input);
        assert.deepEqual(r, { changes: expected, error: null });
        assert.deepEqual(s.changing(), [
          "daemon-reload",
          "--no-ask-password stop -- apache2",
          "--no-ask-password disable -- apache2",
          "--no-ask-password mask -- rpcbind",
          "--no-ask-password stop -- rpcbind",
          "--no-ask-password disable -- cron",
        ]);
        assert.deepEqual(s.state().units, {
          "apache2.service": { active: "inactive", file: "disabled" },
          "rpcbind.service": { active: "inactive", file: "masked" },
          "cron.service": { active: "active", file: "disabled" },
        });
        assert.deepEqual(await syncServices(input), { changes: [], error: null });
        assert.equal(s.changing().length, 6, "the second run changes nothing");
      },
    ));

  test("a masked unit stated started is an error before anything changes (never unmasked)", () =>
    withStandIn(
      {
        units: {
          "nginx.service": { active: "inactive", file: "disabled" },
          "apache2.service": { active: "inactive", file: "masked" },
        },
      },
      async (s) => {
        const r = await syncServices({
          root: "/",
          services: started("nginx", "apache2"),
          apply: true,
          path: s.bin,
        });
        assert.match(String(r.error), /^service "apache2" is masked, so it cannot be started/);
        assert.deepEqual(r.changes, []);
        assert.deepEqual(s.changing(), ["daemon-reload"]);
      },
    ));

  test("dry-run compares only", () =>
    withStandIn(
      { units: { "nginx.service": { active: "failed", file: "enabled" } } },
      async (s) => {
        const r = await syncServices({
          root: "/",
          services: started("nginx"),
          apply: false,
          path: s.bin,
        });
        assert.deepEqual(r, {
          changes: [change("nginx", "started")],
          error: null,
        });
        assert.deepEqual(s.changing(), []);
      },
    ));

  test("a failing start is an error with systemctl's output; the attempted change is reported", () =>
    withStandIn(
      { units: { "nginx.service": { active: "inactive", file: "disabled", failStart: true } } },
      async (s) => {
        const r = await syncServices({
          root: "/",
          services: started("nginx"),
          apply: true,
          path: s.bin,
        });
        assert.deepEqual(r.changes, [change("nginx", "started")]);
        assert.match(
          String(r.error),
          /^systemctl start "nginx" failed with exit status 1:\nJob for nginx.service failed/,
        );
        assert.ok(
          !s.changing().some((c) => c.includes("enable")),
          "no enable after a failed start",
        );
      },
    ));

  test("an unknown unit is an error (after a daemon-reload, in case its file was just synced)", () =>
    withStandIn({ units: {} }, async (s) => {
      const r = await syncServices({
        root: "/",
        services: started("nosuch"),
        apply: true,
        path: s.bin,
      });
      assert.match(String(r.error), /^unknown service "nosuch"/);
      assert.deepEqual(s.changing(), ["daemon-reload"]);
    }));

  test("systemctl present but systemd not running (offline) is an error", () =>
    withStandIn({ system: "offline", units: {} }, async (s) => {
      const r = await syncServices({
        root: "/",
        services: started("nginx"),
        apply: false,
        path: s.bin,
      });
      assert.match(String(r.error), /^services need systemd, .*"offline"/);
    }));

  test("no systemctl in PATH, a root other than /, an invalid name: errors before anything runs", async () => {
    const dir = tempDir();
    try {
      const none = await syncServices({
        root: "/",
        services: started("nginx"),
        apply: true,
        path: dir,
      });
      assert.match(String(none.error), /^services need systemd, .*not in the PATH/);
      const root = await syncServices({
        root: "/srv/x",
        services: started("nginx"),
        apply: true,
        path: dir,
      });
      assert.match(
        String(root.error),
        /^services need root "\/", but this host's root is "\/srv\/x"/,
      );
      const bad = await syncServices({
        root: "/",
        services: started("--now"),
        apply: true,
        path: dir,
      });
      assert.match(String(bad.error), /^invalid service name "--now"/);
      const empty = await syncServices({ root: "/srv/x", services: [], apply: true, path: dir });
      assert.deepEqual(empty, { changes: [], error: null });
    } finally {
      removeDir(dir);
    }
  });
});
