// Services with systemd (SPEC 5.3), in three pieces (STYLE b.3): observe
// (`systemctl show`, parsed by the pure parseSystemctlShow), decide
// (decideUnit, from the state services.yaml states), act (daemon-reload
// once, then start/stop, enable/disable, mask). Dry-run runs the same code
// with apply=false and stops before acting.

import { UNIT_NAME } from "../protocol/command-names.ts";
import type { ServiceChange, ServiceEntry } from "../protocol/messages.ts";
import { findExecutable, runProgram, type ShellResult } from "./commands.ts";
import { quote, silent, type Log } from "./log.ts";

export { UNIT_NAME };

export const SHOW_PROPERTIES = "Id,LoadState,ActiveState,UnitFileState";

/** What `systemctl show --property=Id,LoadState,ActiveState,UnitFileState` says of one unit. */
export interface UnitState {
  id: string;
  /** loaded, not-found, masked, bad-setting, error, ... */
  load: string;
  /** active, reloading, inactive, failed, activating, deactivating, ... */
  active: string;
  /** enabled, disabled, static, masked, indirect, ... or "" without a unit file. */
  file: string;
}

/**
 * Parses the output of `systemctl show --property=... <units...>`: one block
 * of `Key=value` lines per unit, in the order of the units on the command
 * line, blocks separated by a blank line. Missing properties are "".
 * Throws on a line that is not `Key=value`.
 */
export function parseSystemctlShow(output: string): UnitState[] {
  const units: UnitState[] = [];
  let current: Record<string, string> | null = null;
  for (const line of output.split("\n")) {
    if (line === "") {
      if (current !== null) units.push(unitState(current));
      current = null;
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) {
      throw new Error(
        `unexpected line in the output of systemctl show: ${quote(line.slice(0, 200))}`,
      );
    }
    current ??= {};
    current[line.slice(0, eq)] = line.slice(eq + 1);
  }
  if (current !== null) units.push(unitState(current));
  return units;
}

function unitState(p: Record<string, string>): UnitState {
  return {
    id: p.Id ?? "",
    load: p.LoadState ?? "",
    active: p.ActiveState ?? "",
    file: p.UnitFileState ?? "",
  };
}

/** What a unit needs to reach its stated state; `error` when it cannot. */
export interface UnitDecision {
  start: boolean;
  stop: boolean;
  enable: boolean;
  disable: boolean;
  mask: boolean;
  error: string | null;
}

/** Active states in which a unit runs (a reload does not stop it). */
const RUNNING = new Set(["active", "reloading", "refreshing"]);
/** Active states in which there is nothing to stop. */
const STOPPED = new Set(["inactive", "failed", ""]);
/** Unit file states that `systemctl enable` turns into "enabled" ("enabled-runtime"
 * is lost at the next boot). static, indirect, generated, transient, alias and
 * the rest have nothing to enable: left alone. */
const ENABLE = new Set(["disabled", "enabled-runtime"]);
/** Unit file states that `systemctl disable` turns into "disabled"; the rest (static, a
 * runtime enablement that ends at the next boot ...) has nothing to disable: left alone. */
const DISABLE = new Set(["enabled"]);

/** Decides what unit `want.name` needs to reach `want.state` (SPEC 3.5, 5.3), from its state. */
export function decideUnit(want: ServiceEntry, state: UnitState): UnitDecision {
  const none = { start: false, stop: false, enable: false, disable: false, mask: false };
  const name = want.name;
  const masked = state.load === "masked" || state.file.startsWith("masked");
  if (state.load === "not-found" && !masked) {
    return { ...none, error: unknownService(name, state.id) };
  }
  const stop = !STOPPED.has(state.active);
  if (want.state === "masked") return { ...none, stop, mask: !masked, error: null };
  if (masked && (want.state === "started" || want.enabled === true)) {
    const what = want.state === "started" ? "started" : "enabled";
    return { ...none, error: maskedService(name, what) };
  }
  if (masked) return { ...none, stop, error: null }; // stopped, enablement not stated
  if (state.load !== "loaded") {
    return {
      ...none,
      error: `service ${quote(name)} cannot be loaded by systemd (LoadState=${state.load})`,
    };
  }
  const enabled = want.enabled ?? (want.state === "started" ? true : null);
  return {
    ...none,
    start: want.state === "started" && !RUNNING.has(state.active),
    stop: want.state === "stopped" && stop,
    enable: enabled === true && ENABLE.has(state.file),
    disable: enabled === false && DISABLE.has(state.file),
    error: null,
  };
}

/** The systemctl verbs of a decision, in the order they run: `mask` before `stop` (as
 * `systemctl mask --now` does: nothing can start the unit again in between). */
export function unitActions(d: UnitDecision): Action[] {
  const order: Action[] = ["mask", "start", "stop", "enable", "disable"];
  return order.filter((a) => d[a]);
}

type Action = "start" | "stop" | "enable" | "disable" | "mask";

/** What each verb is reported as (SPEC 7). */
const REPORTED: Record<Action, keyof Omit<ServiceChange, "name">> = {
  start: "started",
  stop: "stopped",
  enable: "enabled",
  disable: "disabled",
  mask: "masked",
};

/** The states of systemd that `systemctl is-system-running` reports when it is the init system. */
const SYSTEMD_UP = new Set([
  "initializing",
  "starting",
  "running",
  "degraded",
  "maintenance",
  "stopping",
]);

export interface ServicesInput {
  /** The sync request's root; services need "/". */
  root: string;
  services: ServiceEntry[];
  /** False for dry-run: observe and decide only. */
  apply: boolean;
  log?: Log;
  /** The PATH searched for systemctl (default: the helper's). */
  path?: string;
}

export interface ServicesResult {
  /** What was done to each unit (or in dry-run would be); on an error, also the change that
   * was being attempted. */
  changes: ServiceChange[];
  error: string | null;
}

/**
 * Brings every listed unit into its stated state (SPEC 5.3). When any needs
 * a change, `systemctl daemon-reload` runs once first (unit files may just
 * have been synced) and the units are looked at again, so a unit whose file
 * this sync created is known; then each unit, in the listed order, gets the
 * verbs it needs (unitActions).
 */
export async function syncServices(input: ServicesInput): Promise<ServicesResult> {
  const log = input.log ?? silent;
  const result: ServicesResult = { changes: [], error: null };
  if (input.services.length === 0) return result;
  const fail = (error: string): ServicesResult => ({ ...result, error });

  const invalid = input.services.find((s) => !UNIT_NAME.test(s.name));
  if (invalid !== undefined) return fail(`invalid service name ${quote(invalid.name)}`);
  if (input.root !== "/") return fail(servicesNeedRoot(input.root));
  const systemctl = findExecutable("systemctl", input.path);
  if (systemctl === null) return fail(noSystemd("systemctl is not in the PATH"));
  // systemd is the init system when it says so; "offline" means systemctl
  // is installed but systemd is not running (a container, another init).
  const running = await runProgram(systemctl, ["is-system-running"], { combined: false });
  const state = running.stdout.split("\n")[0].trim();
  if (!SYSTEMD_UP.has(state)) {
    return fail(noSystemd(`systemctl is-system-running says ${quote(state.slice(0, 100))}`));
  }

  // observe, decide
  let decisions = await observe(systemctl, input.services);
  if (typeof decisions === "string") return fail(decisions);
  const needsChange = decisions.some((d) => unitActions(d).length > 0 || d.error !== null);
  if (!needsChange) {
    log("debug", `services: all ${input.services.length} in their state`);
    return result;
  }
  if (input.apply) {
    // act: reload first, then look again with the unit files loaded
    log("verbose", "services: running systemctl daemon-reload");
    const reload = await runProgram(systemctl, ["daemon-reload"], { combined: true });
    if (reload.exitCode !== 0) {
      return fail(systemctlFailed("systemctl daemon-reload", reload.exitCode, combined(reload)));
    }
    decisions = await observe(systemctl, input.services);
    if (typeof decisions === "string") return fail(decisions);
  }
  const failed = decisions.find((d) => d.error !== null);
  if (failed !== undefined && failed.error !== null) return fail(failed.error);

  for (const [i, { name }] of input.services.entries()) {
    const actions = unitActions(decisions[i]);
    if (actions.length === 0) continue;
    const change: ServiceChange = {
      name,
      started: false,
      stopped: false,
      enabled: false,
      disabled: false,
      masked: false,
    };
    result.changes.push(change);
    if (!input.apply) {
      for (const action of actions) change[REPORTED[action]] = true;
      log("verbose", `services: would ${actions.join(" and ")} ${quote(name)}`);
      continue;
    }
    // Reported as it goes: after a failure, what was being attempted is in the report.
    for (const action of actions) {
      log("verbose", `services: ${action} ${quote(name)}`);
      change[REPORTED[action]] = true;
      const run = await runProgram(systemctl, ["--no-ask-password", action, "--", name], {
        combined: true,
      });
      if (run.exitCode !== 0) {
        return fail(
          systemctlFailed(`systemctl ${action} ${quote(name)}`, run.exitCode, combined(run)),
        );
      }
    }
  }
  return result;
}

/** Each unit's decision, in the order of `names`, or an error message. */
async function observe(systemctl: string, units: ServiceEntry[]): Promise<UnitDecision[] | string> {
  const names = units.map((u) => u.name);
  const run = await runProgram(
    systemctl,
    ["show", `--property=${SHOW_PROPERTIES}`, "--", ...names],
    {
      combined: false,
    },
  );
  if (run.exitCode !== 0) return systemctlFailed("systemctl show", run.exitCode, run.stderr);
  let states: UnitState[];
  try {
    states = parseSystemctlShow(run.stdout);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  if (states.length !== names.length) {
    return `systemctl show described ${states.length} unit(s) instead of ${names.length}`;
  }
  return units.map((unit, i) => decideUnit(unit, states[i]));
}

// Fires for a unit that systemd has no unit file for (a typo, a package not installed).
function unknownService(name: string, id: string): string {
  const unit = id !== "" && id !== name ? ` (no unit ${quote(id)})` : "";
  return `unknown service ${quote(name)}${unit}: systemd does not know it`;
}

// Fires for a masked unit that services.yaml wants started or enabled: safcm never
// unmasks (a unit is masked on purpose, by hand or by another group's state: masked).
function maskedService(name: string, what: string): string {
  return `service ${quote(name)} is masked, so it cannot be ${what}; unmask it first (systemctl unmask), or state masked`;
}

// Fires for a host with a root other than "/": systemd manages the host itself.
export function servicesNeedRoot(root: string): string {
  return `services need root "/", but this host's root is ${quote(root)}; remove services.yaml from its groups`;
}

// Fires on a host whose init system is not systemd.
function noSystemd(why: string): string {
  return `services need systemd, which is not this host's init system (${why})`;
}

// Fires when systemctl exits non-zero (a unit failing to start, a broken unit file).
function systemctlFailed(what: string, exitCode: number, output: string): string {
  const text = output.trimEnd();
  return `${what} failed with exit status ${exitCode}${text === "" ? "" : `:\n${text}`}`;
}

/** The output of a `combined` run (the outer shell's own complaints are in stderr). */
function combined(run: ShellResult): string {
  return run.stdout + run.stderr;
}
