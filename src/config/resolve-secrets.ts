// Resolving the secrets of a loaded configuration (SPEC 3.5): `!env` from the
// workstation's environment, `!command` by running it locally, once per run,
// before any host is contacted, only for the groups a named host is or may be in.

import { spawn } from "node:child_process";
import { ConfigError } from "../errors.ts";
import type { Problem } from "../errors.ts";
import type { Config } from "./load.ts";
import { possibleGroups } from "./groups.ts";
import { ALL, isDetectedGroup } from "./names.ts";
import { MAX_COMMAND_OUTPUT, type Secret } from "./secrets.ts";
import type { HostConfig } from "./types.ts";

/**
 * Resolves the secrets of every vars.yaml of a group that one of `hosts` is or
 * may be in (detected groups count as "may"). Each distinct command runs once,
 * all of them at the same time.
 * @throws ConfigError naming every secret that could not be resolved.
 */
export async function resolveSecrets(config: Config, hosts: readonly HostConfig[]): Promise<void> {
  const secrets = secretsFor(config, hosts).filter((s) => s.value === undefined);
  if (secrets.length === 0) return;
  const problems: Problem[] = [];
  const commands = new Map<string, Promise<CommandOutcome>>();
  for (const s of secrets) {
    if (s.kind === "env") {
      const value = process.env[s.source];
      if (value === undefined) {
        problems.push({
          code: "secret-unavailable",
          pos: s.pos,
          message: `environment variable "${s.source}" is not set`,
        });
      } else s.value = value;
    } else if (!commands.has(s.source)) {
      commands.set(s.source, runCommand(s.source, config.dir));
    }
  }
  for (const s of secrets) {
    const outcome = s.kind === "command" ? await commands.get(s.source) : undefined;
    if (outcome === undefined) continue;
    if (typeof outcome === "string") s.value = outcome;
    else
      problems.push({
        code: "secret-unavailable",
        pos: s.pos,
        message: `!command "${s.source}" ${outcome.failure}`,
      });
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/** The secrets of the vars.yaml files of the groups `hosts` can be in. */
function secretsFor(config: Config, hosts: readonly HostConfig[]): Secret[] {
  const groups = new Set<string>();
  for (const host of hosts) {
    // Every host is in `all` and in its own group; possibleGroups covers groups.yaml.
    groups.add(ALL).add(host.name);
    for (const g of possibleGroups(config.groups, host.name)) groups.add(g);
  }
  const out: Secret[] = [];
  for (const [name, dir] of config.groupDirs) {
    if (dir.secrets.length > 0 && (groups.has(name) || isDetectedGroup(name))) {
      out.push(...dir.secrets);
    }
  }
  return out;
}

/** The value, or why there is none (never the command's output). */
type CommandOutcome = string | { failure: string };

/** Runs `command` with /bin/sh -c, stdin closed; its output without one trailing newline. */
function runCommand(command: string, cwd: string): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-c", command], { cwd, stdio: ["ignore", "pipe", "ignore"] });
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    child.stdout.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_COMMAND_OUTPUT) {
        tooLarge = true;
        child.kill("SIGTERM");
      } else chunks.push(chunk);
    });
    child.on("error", (err) => resolve({ failure: `could not be started: ${err.message}` }));
    child.on("close", (code, signal) => {
      if (tooLarge) {
        resolve({ failure: `printed more than ${MAX_COMMAND_OUTPUT} bytes` });
      } else if (code !== 0) {
        resolve({
          failure: code === null ? `was killed by ${signal}` : `failed with exit status ${code}`,
        });
      } else {
        const out = Buffer.concat(chunks);
        let text: string;
        try {
          text = new TextDecoder("utf-8", { fatal: true }).decode(out);
        } catch {
          resolve({ failure: "printed something that is not UTF-8 text" });
          return;
        }
        resolve(text.endsWith("\n") ? text.slice(0, -1) : text);
      }
    });
  });
}

/** Every secret value resolved in this run (empty ones left out: they would hide nothing). */
export function secretValues(config: Config): string[] {
  const values = new Set<string>();
  for (const dir of config.groupDirs.values()) {
    for (const s of dir.secrets) if (s.value !== undefined && s.value !== "") values.add(s.value);
  }
  return [...values];
}
