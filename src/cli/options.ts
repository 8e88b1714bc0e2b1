import { parseArgs } from "node:util";
import { ConfigError } from "../errors.ts";
import { LOG_LEVELS, type LogLevel } from "../protocol/messages.ts";

export interface Options {
  /** --dry-run (true), --no-dry-run (false), or neither (null: config.yaml decides). */
  dryRun: boolean | null;
  dir: string;
  logLevel: LogLevel | null;
  jobs: number;
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
  sync: ["dry-run", "no-dry-run", "dir", "log-level", "jobs", "json", "color"],
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
  const color = text("color") ?? "auto";
  if (color !== "auto" && color !== "always" && color !== "never") {
    usage(`invalid --color "${color}", expected auto, always or never`);
  }
  return {
    dryRun: values.has("dry-run") ? true : values.has("no-dry-run") ? false : null,
    dir: text("dir") ?? ".",
    logLevel: (logLevel as LogLevel | undefined) ?? null,
    jobs,
    json: values.has("json"),
    color: color as Options["color"],
    targets,
  };
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
