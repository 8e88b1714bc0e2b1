import { parseArgs } from "node:util";
import { ConfigError } from "../errors.ts";
import { LOG_LEVELS, type LogLevel } from "../protocol/messages.ts";

export interface Options {
  dryRun: boolean;
  dir: string;
  logLevel: LogLevel | null;
  jobs: number;
  json: boolean;
  color: "auto" | "always" | "never";
  targets: string[];
}

function usage(message: string): never {
  throw new ConfigError([{ message: `${message} (see "safcm help")` }]);
}

/** Parses the options of sync and check; `allowed` lists the ones the command takes. */
export function parseOptions(args: string[], allowed: readonly string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        "dry-run": { type: "boolean", short: "n" },
        dir: { type: "string", short: "C" },
        "log-level": { type: "string", short: "l" },
        jobs: { type: "string", short: "j" },
        json: { type: "boolean" },
        color: { type: "string" },
      },
    });
  } catch (err) {
    usage(err instanceof Error ? err.message.split("\n")[0] : String(err));
  }
  const v = parsed.values;
  for (const name of Object.keys(v)) {
    if (!allowed.includes(name)) usage(`option --${name} is not valid for this command`);
  }
  const logLevel = v["log-level"];
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    usage(`invalid log level "${logLevel}", expected one of ${LOG_LEVELS.join(", ")}`);
  }
  const jobs = v.jobs === undefined ? 32 : Number(v.jobs);
  if (!Number.isInteger(jobs) || jobs < 1)
    usage(`invalid --jobs "${v.jobs}", expected a positive integer`);
  const color = v.color ?? "auto";
  if (color !== "auto" && color !== "always" && color !== "never") {
    usage(`invalid --color "${color}", expected auto, always or never`);
  }
  return {
    dryRun: v["dry-run"] ?? false,
    dir: v.dir ?? ".",
    logLevel: (logLevel as LogLevel | undefined) ?? null,
    jobs,
    json: v.json ?? false,
    color,
    targets: parsed.positionals,
  };
}
