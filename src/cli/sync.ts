import { resolve } from "node:path";
import { loadConfig } from "../config/load.ts";
import { isTarget, resolveTargets } from "../config/targets.ts";
import { ConfigError } from "../errors.ts";
import { LOG_LEVELS, type LogLevel } from "../protocol/messages.ts";
import { useColor } from "../report/color.ts";
import { hostLines, logLine, summaryLine } from "../report/human.ts";
import { jsonReport } from "../report/json.ts";
import { Progress } from "../report/progress.ts";
import { syncHost } from "../session/host.ts";
import { runPool } from "../session/pool.ts";
import type { SyncResult } from "../session/result.ts";
import { parseOptions } from "./options.ts";

const SYNC_OPTIONS = ["dry-run", "dir", "log-level", "jobs", "json", "color"];

/** Default for how long a helper may stay silent (it sends keepalives while it works). */
const DEFAULT_TIMEOUT_S = 120;

function helperTimeoutMs(): number {
  const value = process.env.SAFCM_HELPER_TIMEOUT;
  const seconds = value === undefined || value === "" ? DEFAULT_TIMEOUT_S : Number(value);
  // setTimeout takes at most 2^31-1 ms; anything larger would fire at once.
  if (!(seconds > 0) || seconds > 2_147_483) {
    throw new ConfigError([
      { message: `invalid SAFCM_HELPER_TIMEOUT "${value}", expected seconds (at most 2147483)` },
    ]);
  }
  return seconds * 1000;
}

export async function sync(args: string[]): Promise<number> {
  const opts = parseOptions(args, SYNC_OPTIONS);
  const timeoutMs = helperTimeoutMs();
  if (opts.targets.length === 0) {
    throw new ConfigError([{ message: 'no host or group given (e.g. "safcm sync all")' }]);
  }
  const started = Math.round(process.uptime() * 1000);
  const config = loadConfig(resolve(opts.dir));
  const hosts = resolveTargets(config, opts.targets);
  const loaded = Math.round(process.uptime() * 1000);
  const dryRun = opts.dryRun || config.global.dry_run;
  const level = LOG_LEVELS.indexOf(opts.logLevel ?? config.global.log_level);
  const color = useColor(opts.color, process.stdout, process.env);
  const logColor = useColor(opts.color, process.stderr, process.env);
  const progress = new Progress(process.stderr);
  let done = 0;
  let failed = 0;

  const onLog = (host: string, msgLevel: LogLevel, text: string) => {
    if (LOG_LEVELS.indexOf(msgLevel) > level) return;
    progress.line(logLine(host, msgLevel, text, logColor));
  };
  onLog(
    "(local)",
    "debug",
    `configuration loaded in ${loaded - started} ms, ${loaded} ms after start`,
  );
  const hostsResults = await runPool(hosts, opts.jobs, async (host) => {
    const result = await syncHost(config, host, {
      dryRun,
      timeoutMs,
      logLevel: LOG_LEVELS[level],
      onLog,
      isTarget: (groups) => isTarget(opts.targets, host.name, groups),
    });
    done++;
    if (!result.ok) failed++;
    if (!opts.json && !result.skipped) {
      const lines = hostLines(result, {
        dryRun,
        color,
        verbose: level >= LOG_LEVELS.indexOf("verbose"),
      });
      if (lines.length > 0) {
        progress.clear();
        process.stdout.write(lines.join("\n") + "\n");
      }
    }
    progress.update(done, hosts.length, failed);
    return result;
  });
  progress.clear();

  const result: SyncResult = { dry_run: dryRun, hosts: hostsResults.filter((h) => !h.skipped) };
  if (opts.json) process.stdout.write(jsonReport(result) + "\n");
  else if (level >= LOG_LEVELS.indexOf("info")) process.stdout.write(summaryLine(result) + "\n");
  return failed > 0 ? 1 : 0;
}
