import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fixperms } from "../config/fixperms.ts";
import { ConfigError } from "../errors.ts";
import { packageFile } from "../paths.ts";
import { check } from "./check.ts";
import { helpText } from "./help.ts";
import { parseOptions } from "./options.ts";
import { runtimeCommand } from "./runtime.ts";
import { sync } from "./sync.ts";

function version(): string {
  const pkg = JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

async function run(command: string | undefined, args: string[]): Promise<number> {
  switch (command) {
    case "sync":
      return sync(args);
    case "check":
      return check(args);
    case "fixperms": {
      const opts = parseOptions(args, ["dir"]);
      if (opts.targets.length > 0)
        throw new ConfigError([{ message: "fixperms takes no arguments" }]);
      for (const path of fixperms(resolve(opts.dir))) process.stdout.write(`fixed ${path}\n`);
      return 0;
    }
    case "runtime":
      return runtimeCommand(args);
    case "version":
      process.stdout.write(`safcm ${version()}\n`);
      return 0;
    case "help":
    case "--help":
    case "-h": {
      const text = helpText(args[0]);
      if (text === null) throw new ConfigError([{ message: `unknown command "${args[0]}"` }]);
      process.stdout.write(text + "\n");
      return 0;
    }
    case undefined:
      process.stderr.write(helpText(undefined) + "\n");
      return 2;
    default:
      throw new ConfigError([{ message: `unknown command "${command}" (see "safcm help")` }]);
  }
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
    const debug = argv.includes("debug") || argv.includes("debug2");
    const detail =
      err instanceof Error ? (debug ? (err.stack ?? err.message) : err.message) : String(err);
    process.stderr.write(`safcm: internal error: ${detail}\n`);
    return 1;
  }
}
