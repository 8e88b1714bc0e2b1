import { setMaxListeners } from "node:events";
import { resolve } from "node:path";
import { localWarnings } from "../config/group-dir.ts";
import { loadConfig } from "../config/load.ts";
import { resolveSecrets } from "../config/resolve-secrets.ts";
import { isTarget, resolveTargets, rolloutOrder } from "../config/targets.ts";
import { ConfigError } from "../errors.ts";
import { LOG_LEVELS, type LogLevel } from "../protocol/messages.ts";
import { useColor } from "../report/color.ts";
import { hostText, logLine, summaryText } from "../report/human.ts";
import { jsonReport } from "../report/json.ts";
import { Progress } from "../report/progress.ts";
import { syncHost } from "../session/host.ts";
import { batchPlan, runBatches, type BatchPlan } from "../session/batches.ts";
import { runPool } from "../session/pool.ts";
import { newHostResult, type HostResult, type SyncResult } from "../session/result.ts";
import { printWarnings } from "./check.ts";
import { parseOptions } from "./options.ts";

/** SPEC 4: the exit status after an interruption, 128 + the signal's number. */
const EXIT_INTERRUPTED: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

/** Default for how long a helper may stay silent (it sends keepalives while it works). */
const DEFAULT_TIMEOUT_S = 120;

function helperTimeoutMs(): number {
  const value = process.env.SAFCM_HELPER_TIMEOUT;
  const seconds = value === undefined || value === "" ? DEFAULT_TIMEOUT_S : Number(value);
  // setTimeout takes at most 2^31-1 ms; anything larger would fire at once.
  if (!(seconds > 0) || seconds > 2_147_483) {
    throw new ConfigError([
      {
        code: "usage",
        message: `invalid SAFCM_HELPER_TIMEOUT "${value}", expected seconds (at most 2147483)`,
      },
    ]);
  }
  return seconds * 1000;
}

export async function sync(args: string[]): Promise<number> {
  const opts = parseOptions(args, "sync");
  const timeoutMs = helperTimeoutMs();
  if (opts.targets.length === 0) {
    throw new ConfigError([
      { code: "usage", message: 'no host or group given (e.g. "safcm sync all")' },
    ]);
  }
  const started = Math.round(process.uptime() * 1000);
  const config = loadConfig(resolve(opts.dir));
  // SPEC 4: a rollout in batches takes the hosts in command-line, then sorted order.
  const hosts =
    opts.batch === null ? resolveTargets(config, opts.targets) : rolloutOrder(config, opts.targets);
  const plan = opts.batch === null ? null : batchPlan(hosts.length, opts.batch, opts.maxFail);
  await resolveSecrets(config, hosts); // before any host is contacted
  printWarnings(localWarnings(config.groupDirs.values()));
  const loaded = Math.round(process.uptime() * 1000);
  const dryRun = opts.dryRun ?? config.global.dry_run;
  const level = LOG_LEVELS.indexOf(opts.logLevel ?? config.global.log_level);
  const color = useColor(opts.color, process.stdout, process.env);
  const logColor = useColor(opts.color, process.stderr, process.env);
  const verbose = level >= LOG_LEVELS.indexOf("verbose");
  const progress = new Progress(process.stderr);
  let done = 0;
  let failed = 0;
  let batch: { index: number; count: number } | null = null;

  const onLog = (host: string, msgLevel: LogLevel, text: string) => {
    if (LOG_LEVELS.indexOf(msgLevel) > level) return;
    progress.line(logLine(host, msgLevel, text, logColor));
  };
  onLog(
    "(local)",
    "debug",
    `configuration loaded in ${loaded - started} ms, ${loaded} ms after start`,
  );
  // SPEC 5.5: SIGINT or SIGTERM stops every host cleanly; the report shows what was done.
  const controller = new AbortController();
  // One listener per host being synced: at most `jobs` at once, which is no leak.
  setMaxListeners(opts.jobs + 1, controller.signal);
  let interruptedBy: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interruptedBy !== null) return;
    interruptedBy = signal;
    progress.clear();
    process.stderr.write(`safcm: ${signal}: stopping every host before its next change\n`);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const syncOne = async (host: (typeof hosts)[number]): Promise<HostResult> => {
    const result = await syncHost(config, host, {
      dryRun,
      timeoutMs,
      logLevel: LOG_LEVELS[level],
      onLog,
      isTarget: (groups) => isTarget(opts.targets, host.name, groups),
      signal: controller.signal,
      fetchProgress: { write: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY },
    });
    done++;
    if (!result.ok) failed++;
    if (!opts.json) {
      const text = hostText(result, { dryRun, color, verbose });
      if (text !== "") {
        progress.clear();
        process.stdout.write(text);
      }
    }
    progress.update(done, hosts.length, failed, batch);
    return result;
  };
  const hostsResults =
    plan === null
      ? await runPool(hosts, opts.jobs, syncOne)
      : await runBatches(hosts, plan, opts.jobs, syncOne, {
          failed: (r) => !r.ok,
          interrupted: () => controller.signal.aborted,
          skip: (host) => skippedHost(host.name, stopReason(failed, plan)),
          onBatch: (index, items) => {
            batch = { index: index + 1, count: plan.count };
            onLog(
              "(local)",
              "verbose",
              `batch ${index + 1}/${plan.count}: ${items.map((h) => h.name).join(", ")}`,
            );
            progress.update(done, hosts.length, failed, batch);
          },
          onStop: (_failed, left) => {
            progress.line(
              `safcm: ${stopReason(failed, plan)}: ${left} host(s) in ${plan.count - (batch?.index ?? 0)} batch(es) not started`,
            );
          },
        });
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  progress.clear();
  if (!opts.json) {
    // Hosts never started have no moment of their own: their lines come after the others.
    for (const h of hostsResults) {
      if (h.skipped) process.stdout.write(hostText(h, { dryRun, color, verbose }));
    }
  }

  // The workstation's own CPU (this process only: ssh children excluded), for bench/fleet.ts.
  const cpu = process.resourceUsage();
  onLog(
    "(local)",
    "debug",
    `local CPU ${Math.round((cpu.userCPUTime + cpu.systemCPUTime) / 1000)} ms (user ${Math.round(cpu.userCPUTime / 1000)} ms, system ${Math.round(cpu.systemCPUTime / 1000)} ms), ${Math.round(process.uptime() * 1000)} ms after start`,
  );
  const result: SyncResult = { dryRun, hosts: hostsResults.filter((h) => h.notTarget !== true) };
  if (opts.json) process.stdout.write(jsonReport(result) + "\n");
  else if (level >= LOG_LEVELS.indexOf("info")) process.stdout.write(summaryText(result));
  if (interruptedBy !== null) return EXIT_INTERRUPTED[interruptedBy] ?? 130;
  return failed > 0 || hostsResults.some((h) => h.skipped) ? 1 : 0;
}

/** Why a rollout in batches stopped, one sentence without a full stop. */
function stopReason(failed: number, plan: BatchPlan): string {
  return `${failed} host(s) failed and --max-fail allows ${plan.maxFail}`;
}

/** The result of a host that a rollout in batches never started (SPEC 4 --max-fail). */
function skippedHost(name: string, reason: string): HostResult {
  return { ...newHostResult(name), ok: false, error: `not started: ${reason}`, skipped: true };
}
