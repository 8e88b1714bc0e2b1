import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fixperms, formatChange } from "./fixperms.ts";
import { ConfigError } from "../errors.ts";
import { packageFile } from "../paths.ts";
import { check } from "./check.ts";
import { SHELLS, completionScript, completions, readYaml, type Shell } from "./completion.ts";
import { helpText } from "./help.ts";
import { isLogLevel, parseOptions, peekOptions } from "./options.ts";
import { runtimeCommand } from "./runtime.ts";
import { sync } from "./sync.ts";

function version(): string {
  const pkg = JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function usage(message: string, command?: string): never {
  const hint = command === undefined ? "safcm help" : `safcm help ${command}`;
  throw new ConfigError([{ code: "usage", message: `${message} (see "${hint}")` }]);
}

/** Whether a command's arguments ask for its help (`safcm sync --help`). */
function wantsHelp(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

function printHelp(command: string | undefined): number {
  const text = helpText(command);
  if (text === null) usage(`unknown command "${command}"`);
  process.stdout.write(text + "\n");
  return 0;
}

function noArguments(command: string, args: string[]): void {
  if (args.length > 0) usage(`"safcm ${command}" takes no arguments`, command);
}

async function run(command: string | undefined, args: string[]): Promise<number> {
  if (command !== undefined && command !== "__complete" && wantsHelp(args)) {
    return printHelp(command);
  }
  switch (command) {
    case "sync":
      return sync(args);
    case "check":
      return check(args);
    case "fixperms": {
      const opts = parseOptions(args, "fixperms");
      if (opts.targets.length > 0) usage("fixperms takes no arguments", "fixperms");
      for (const change of fixperms(resolve(opts.dir))) {
        process.stdout.write(formatChange(change) + "\n");
      }
      return 0;
    }
    case "runtime":
      return runtimeCommand(args);
    case "version":
    case "--version":
    case "-V":
      noArguments("version", args);
      process.stdout.write(`safcm ${version()}\n`);
      return 0;
    case "help":
    case "--help":
    case "-h":
      if (args.length > 1) usage("help takes at most one command", "help");
      return printHelp(args[0]);
    case "completion": {
      const script = args.length === 1 ? completionScript(args[0]) : null;
      if (script === null) usage(`expected one of ${SHELLS.join(", ")}`, "completion");
      process.stdout.write(script);
      return 0;
    }
    case "__complete":
      return complete(args);
    case undefined:
      process.stderr.write(helpText(undefined) + "\n");
      return 2;
    default:
      usage(`unknown command "${command}"`);
  }
}

/**
 * `safcm __complete <shell> -- <words>`, called by the completion scripts:
 * one candidate a line. It never fails loudly: a shell's completion must not
 * print errors into the command line being typed.
 */
function complete(args: string[]): number {
  try {
    const [shell, dashes, ...words] = args;
    if (!(SHELLS as readonly string[]).includes(shell) || dashes !== "--") return 1;
    const found = completions(shell as Shell, words);
    if (found.length > 0) process.stdout.write(found.join("\n") + "\n");
    return 0;
  } catch {
    return 1;
  }
}

/**
 * Whether an internal error should show its stack: at log level debug or
 * debug2, from the command line or else from config.yaml.
 */
export function showStack(args: string[]): boolean {
  const { logLevel, dir } = peekOptions(args);
  let level: string | null = logLevel;
  if (level === null) {
    const global = readYaml(join(dir, "config.yaml")) as { log_level?: unknown } | null;
    const configured = global?.log_level;
    if (typeof configured === "string" && isLogLevel(configured)) level = configured;
  }
  return level === "debug" || level === "debug2";
}

/** The whole command line; returns the exit status (SPEC 4). */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv[0], argv.slice(1));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(
        err.message
          .split("\n")
          .map((l) => `safcm: ${l}`)
          .join("\n") + "\n",
      );
      return 2;
    }
    const detail =
      err instanceof Error
        ? showStack(argv.slice(1))
          ? (err.stack ?? err.message)
          : err.message
        : String(err);
    process.stderr.write(`safcm: internal error: ${detail}\n`);
    return 1;
  }
}
