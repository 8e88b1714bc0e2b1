import { parseArgs } from "node:util";
import { ConfigError } from "../errors.ts";
import { LOG_LEVELS, type LogLevel } from "../protocol/messages.ts";
import type { Amount } from "../session/batches.ts";

export interface Options {
  /** --dry-run (true), --no-dry-run (false), or neither (null: config.yaml decides). */
  dryRun: boolean | null;
  dir: string;
  logLevel: LogLevel | null;
  jobs: number;
  /** --batch: roll out this many hosts (or this percentage of them) at a time; null: all at once. */
  batch: Amount | null;
  /** --max-fail (only with --batch): failed hosts tolerated before no further batch starts. */
  maxFail: Amount | null;
  json: boolean;
  color: "auto" | "always" | "never";
  targets: string[];
}

export interface OptionSpec {
  short?: string;
  /** The placeholder of the option's value; absent for a flag. */
  value?: string;
  /** The values the option accepts, where they are a fixed list (for completion). */
  values?: readonly string[];
  help: string;
}

/** Every option of the commands that take options (SPEC 4), in the order help lists them. */
export const OPTIONS = {
  "dry-run": {
    short: "n",
    help: "report what would change, change nothing, run no trigger or command",
  },
  "no-dry-run": { help: "sync for real even where config.yaml says dry_run: true" },
  dir: { short: "C", value: "DIR", help: "configuration directory (default: the current one)" },
  "log-level": {
    short: "l",
    value: "LEVEL",
    values: LOG_LEVELS,
    help: `${LOG_LEVELS.join(", ")} (overrides config.yaml)`,
  },
  jobs: { short: "j", value: "N", help: "at most N hosts at once (default 32)" },
  batch: {
    value: "N|P%",
    help: "roll out N hosts (or P percent) at a time, a batch after the whole previous one",
  },
  "max-fail": {
    value: "N|P%",
    help: "with --batch: start no further batch once more than N (P%) hosts failed (default 0)",
  },
  json: { help: "write one JSON report to standard output instead of the human report" },
  color: {
    value: "WHEN",
    values: ["auto", "always", "never"],
    help: "auto (default), always or never; auto honours a terminal and NO_COLOR",
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** The options each command takes. */
export const COMMAND_OPTIONS = {
  sync: ["dry-run", "no-dry-run", "dir", "log-level", "jobs", "batch", "max-fail", "json", "color"],
  check: ["dir", "log-level"],
  fixperms: ["dir"],
} as const satisfies Record<string, readonly OptionName[]>;

export type OptionCommand = keyof typeof COMMAND_OPTIONS;

/** How an option is written in messages: `-j/--jobs` or `--json`. */
export function optionLabel(name: OptionName): string {
  const spec: OptionSpec = OPTIONS[name];
  return spec.short === undefined ? `--${name}` : `-${spec.short}/--${name}`;
}

/** The command line as parseArgs's tokens, parsed leniently (unknown options are tokens too). */
function tokensOf(args: string[]) {
  const options = Object.fromEntries(
    Object.entries(OPTIONS).map(([name, spec]: [string, OptionSpec]) => [
      name,
      {
        type: spec.value === undefined ? ("boolean" as const) : ("string" as const),
        ...(spec.short === undefined ? {} : { short: spec.short }),
      },
    ]),
  );
  return parseArgs({ args, allowPositionals: true, strict: false, tokens: true, options }).tokens;
}

function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(OPTIONS, name);
}

/**
 * Parses the options of `command`. Every mistake is a ConfigError (exit 2) in
 * safcm's words, with a pointer to the command's help.
 */
export function parseOptions(args: string[], command: OptionCommand): Options {
  const usage = (message: string): never => {
    throw new ConfigError([{ code: "usage", message: `${message} (see "safcm help ${command}")` }]);
  };
  const allowed: readonly OptionName[] = COMMAND_OPTIONS[command];
  // Lenient parsing gives every token; the checks below are safcm's own.
  const tokens = tokensOf(args);
  const values = new Map<OptionName, string | boolean>();
  const targets: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      targets.push(token.value);
      continue;
    }
    if (token.kind !== "option") continue; // the "--" terminator
    const name = token.name;
    if (!isOptionName(name)) usage(`unknown option "${token.rawName}" for "safcm ${command}"`);
    const known = name as OptionName;
    if (!allowed.includes(known)) {
      usage(`option ${optionLabel(known)} is not valid for "safcm ${command}"`);
    }
    const spec: OptionSpec = OPTIONS[known];
    if (spec.value === undefined) {
      if (token.inlineValue === true) usage(`option ${optionLabel(known)} takes no value`);
      values.set(known, true);
    } else {
      if (token.value === undefined) {
        usage(`option ${optionLabel(known)} needs a value: ${token.rawName} ${spec.value}`);
      }
      values.set(known, token.value as string);
    }
    // The later of --dry-run and --no-dry-run wins, as for any repeated option.
    if (known === "dry-run") values.delete("no-dry-run");
    if (known === "no-dry-run") values.delete("dry-run");
  }
  const text = (name: OptionName): string | undefined => {
    const v = values.get(name);
    return typeof v === "string" ? v : undefined;
  };

  const logLevel = text("log-level");
  if (logLevel !== undefined && !isLogLevel(logLevel)) {
    usage(`invalid log level "${logLevel}", expected one of ${LOG_LEVELS.join(", ")}`);
  }
  const jobsText = text("jobs");
  const jobs = jobsText === undefined ? 32 : Number(jobsText);
  if (!Number.isInteger(jobs) || jobs < 1) {
    usage(`invalid --jobs "${jobsText}", expected a positive integer`);
  }
  const batchText = text("batch");
  const batch = batchText === undefined ? null : amount(batchText, 1);
  if (batchText !== undefined && batch === null) {
    usage(
      `invalid --batch "${batchText}", expected a number of hosts (at least 1) or a percentage (1% to 100%)`,
    );
  }
  const maxFailText = text("max-fail");
  const maxFail = maxFailText === undefined ? null : amount(maxFailText, 0);
  if (maxFailText !== undefined && maxFail === null) {
    usage(
      `invalid --max-fail "${maxFailText}", expected a number of hosts or a percentage (0% to 100%)`,
    );
  }
  if (maxFail !== null && batch === null) {
    usage("--max-fail applies only to a rollout in batches: give --batch too");
  }
  const color = text("color") ?? "auto";
  if (color !== "auto" && color !== "always" && color !== "never") {
    usage(`invalid --color "${color}", expected auto, always or never`);
  }
  return {
    dryRun: values.has("dry-run") ? true : values.has("no-dry-run") ? false : null,
    dir: text("dir") ?? ".",
    logLevel: (logLevel as LogLevel | undefined) ?? null,
    jobs,
    batch,
    maxFail,
    json: values.has("json"),
    color: color as Options["color"],
    targets,
  };
}

/**
 * "N" (an integer, at least `min`) or "P%" (an integer percentage, `min` to 100); null when
 * the text is neither. Plain decimal digits only: "1e3", "0x10" and " 5" are mistakes.
 */
function amount(text: string, min: number): Amount | null {
  const match = /^(\d{1,9})(%?)$/.exec(text);
  if (match === null) return null;
  const n = Number(match[1]);
  if (n < min) return null;
  if (match[2] === "%") return n <= 100 ? { percent: n } : null;
  return { count: n };
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * The log level and directory the command line asks for, read leniently
 * (for a failure that happens before or outside the command's own parsing).
 */
export function peekOptions(args: string[]): { logLevel: LogLevel | null; dir: string } {
  let logLevel: LogLevel | null = null;
  let dir = ".";
  try {
    for (const t of tokensOf(args)) {
      if (t.kind !== "option" || typeof t.value !== "string") continue;
      if (t.name === "log-level" && isLogLevel(t.value)) logLevel = t.value;
      if (t.name === "dir") dir = t.value;
    }
  } catch {
    // nothing to learn from arguments this broken
  }
  return { logLevel, dir };
}
