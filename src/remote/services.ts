// Services with systemd (SPEC 5.3), in three pieces (STYLE b.3): observe
// (`systemctl show`, parsed by the pure parseSystemctlShow), decide
// (decideUnit), act (daemon-reload once, then start and enable). Dry-run
// runs the same code with apply=false and stops before acting.

import { UNIT_NAME } from "../protocol/names.ts";
import type { ServiceChange } from "../protocol/messages.ts";
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

/** What a unit needs; `error` when it cannot be made enabled and active. */
export interface UnitDecision {
  start: boolean;
  enable: boolean;
  error: string | null;
}

/** Active states in which a unit runs (a reload does not stop it). */
const RUNNING = new Set(["active", "reloading", "refreshing"]);
/** Unit file states that `systemctl enable` turns into "enabled" ("enabled-runtime"
 * is lost at the next boot). static, indirect, generated, transient, alias and
 * the rest have nothing to enable: left alone. */
const ENABLE = new Set(["disabled", "enabled-runtime"]);

/** Decides what unit `name` (as listed in services.yaml) needs, from its state. */
export function decideUnit(name: string, state: UnitState): UnitDecision {
  const none = { start: false, enable: false };
  if (state.load === "not-found") return { ...none, error: unknownService(name, state.id) };
  if (state.load === "masked" || state.file.startsWith("masked")) {
    return {
      ...none,
      error: `service ${quote(name)} is masked; unmask it first (systemctl unmask)`,
    };
  }
  if (state.load !== "loaded") {
    return {
      ...none,
      error: `service ${quote(name)} cannot be loaded by systemd (LoadState=${state.load})`,
    };
  }
  return { start: !RUNNING.has(state.active), enable: ENABLE.has(state.file), error: null };
}

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
  services: string[];
  /** False for dry-run: observe and decide only. */
  apply: boolean;
  log?: Log;
  /** The PATH searched for systemctl (default: the helper's). */
  path?: string;
}

export interface ServicesResult {
  /** Units started and/or enabled (or in dry-run that would be); on an error, also the one being changed. */
  changes: ServiceChange[];
  error: string | null;
}

/**
 * Makes every listed unit enabled and active (SPEC 5.3). When any needs a
 * change, `systemctl daemon-reload` runs once first (unit files may just
 * have been synced) and the units are looked at again, so a unit whose file
 * this sync created is known; then `start` for inactive units and `enable`
 * for disabled ones, each unit in the listed order.
 */
export async function syncServices(input: ServicesInput): Promise<ServicesResult> {
  const log = input.log ?? silent;
  const result: ServicesResult = { changes: [], error: null };
  if (input.services.length === 0) return result;
  const fail = (error: string): ServicesResult => ({ ...result, error });

  const invalid = input.services.find((name) => !UNIT_NAME.test(name));
  if (invalid !== undefined) return fail(`invalid service name ${quote(invalid)}`);
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
  const needsChange = decisions.some((d) => d.start || d.enable || d.error !== null);
  if (!needsChange) {
    log("debug", `services: all ${input.services.length} enabled and active`);
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

  for (const [i, name] of input.services.entries()) {
    const { start, enable } = decisions[i];
    if (!start && !enable) continue;
    const actions = [...(start ? ["start" as const] : []), ...(enable ? ["enable" as const] : [])];
    if (!input.apply) {
      result.changes.push({ name, started: start, enabled: enable });
      log("verbose", `services: would ${actions.join(" and ")} ${quote(name)}`);
      continue;
    }
    // Reported as it goes: after a failure, what was being attempted is in the report.
    const change = { name, started: false, enabled: false };
    result.changes.push(change);
    for (const action of actions) {
      log("verbose", `services: ${action} ${quote(name)}`);
      if (action === "start") change.started = true;
      else change.enabled = true;
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
async function observe(systemctl: string, names: string[]): Promise<UnitDecision[] | string> {
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
  return names.map((name, i) => decideUnit(name, states[i]));
}

// Fires for a unit that systemd has no unit file for (a typo, a package not installed).
function unknownService(name: string, id: string): string {
  const unit = id !== "" && id !== name ? ` (no unit ${quote(id)})` : "";
  return `unknown service ${quote(name)}${unit}: systemd does not know it`;
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
