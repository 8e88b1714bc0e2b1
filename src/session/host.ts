// The sync of one host, as a list of named stages run by one small runner, which labels
// every failure with the stage that was running: connect -> info (detect groups) -> build ->
// sync -> result. The checks of the helper's replies are in replies.ts.

import type { Config } from "../config/load.ts";
import { secretValues } from "../config/resolve-secrets.ts";
import { redactor } from "../config/secrets.ts";
import type { HostConfig } from "../config/types.ts";
import { buildHost, hostGroups, type BuiltHost, type HostFacts } from "../assemble/host-config.ts";
import { BUILT_IN_FACTS, factValues } from "../assemble/context.ts";
import { HostError, type Stage } from "../errors.ts";
import { LOG_LEVELS, PROTOCOL_VERSION } from "../protocol/messages.ts";
import type { LogLevel } from "../protocol/messages.ts";
import { helperBundle } from "../transport/bootstrap.ts";
import { LocalTransport } from "../transport/local.ts";
import { SshTransport } from "../transport/ssh.ts";
import type { RuntimeInfo, Transport } from "../transport/transport.ts";
import { runtimePackageOnce } from "../runtime/cache.ts";
import { Connection, type RuntimeSource } from "./connection.ts";
import { redactResult } from "./redact.ts";
import { applyResponse, contentFor, detectedGroups, detectedVars, expect } from "./replies.ts";
import { newHostResult, type HostResult } from "./result.ts";

export interface SyncOptions {
  dryRun: boolean;
  /** How long a helper may stay silent while a request is pending. */
  timeoutMs: number;
  /** Whether the host, with these groups (detected ones included), is one of the targets. */
  isTarget?: (groups: string[]) => boolean;
  /** The chosen log level: the helper sends only lines at or above it (default "info"). */
  logLevel?: LogLevel;
  /** Called for every log line of this host (remote ones are untrusted text). */
  onLog: (host: string, level: LogLevel, text: string) => void;
  /** Aborted on SIGINT/SIGTERM (SPEC 5.5): the helper stops before its next change and
   * reports; a host not yet contacted is not contacted. */
  signal?: AbortSignal;
  /** Where the progress of fetching the bundled runtime goes (the CLI gives standard error);
   * default: nowhere. Sessions never print themselves. */
  fetchProgress?: { write: (text: string) => void; isTTY: boolean };
}

/** The error of a host whose sync was interrupted before a request could be sent. */
function interrupted(stage: "connect" | "sync"): HostError {
  const what = stage === "connect" ? "the host was not contacted" : "nothing was changed";
  return new HostError(`interrupted: ${what}`);
}

function transportFor(config: Config, host: HostConfig): Transport {
  const plain = {
    name: host.name,
    connection: host.connection,
    sshUser: host.ssh_user,
    node: host.node,
    sshConfig: config.global.ssh_config,
    sudo: host.sudo,
    runtime: host.runtime,
    sshPersist: config.global.ssh_persist,
  };
  // A closed set: switch on the connection, no plugin discovery.
  return host.connection === "local" ? new LocalTransport(plain) : new SshTransport(plain);
}

/** What the stages of one host share. */
interface Session {
  readonly config: Config;
  readonly host: HostConfig;
  readonly options: SyncOptions;
  readonly result: HostResult;
  readonly log: (level: LogLevel, text: string) => void;
  readonly aborted: () => boolean;
  connection: Connection | null;
  /** Set by "info". */
  facts: HostFacts;
  /** Set by "build". */
  built: BuiltHost | null;
}

/** A stage returns "done" when the host needs nothing more (not a target after all). */
type StageFn = (s: Session) => Promise<"done" | void>;

/** The host session, in order (STYLE.md b.2); the runner records which one is running. */
const STAGES: readonly (readonly [Stage, StageFn])[] = [
  ["connect", connect],
  ["info", info],
  ["build", build],
  ["sync", sync],
];

/** Syncs one host; never throws: a failure (even an internal error) is part of the result. */
export async function syncHost(
  config: Config,
  host: HostConfig,
  options: SyncOptions,
): Promise<HostResult> {
  const result = newHostResult(host.name);
  const redact = redactor(secretValues(config));
  const session: Session = {
    config,
    host,
    options,
    result,
    log: (level, text) => options.onLog(host.name, level, redact(text)),
    aborted: () => options.signal?.aborted === true,
    connection: null,
    facts: { detected: [], uid: 0, gid: 0 },
    built: null,
  };
  const stop = () => session.connection?.interrupt();
  options.signal?.addEventListener("abort", stop);
  let stage: Stage = "connect";
  try {
    for (const [name, run] of STAGES) {
      stage = name;
      if ((await run(session)) === "done") break;
    }
  } catch (err) {
    // A failing host never stops the others, not even through a bug of ours.
    result.ok = false;
    result.stage = labelled(stage, session.connection);
    if (err instanceof HostError) {
      result.error = err.message;
    } else {
      const error = err instanceof Error ? err : new Error(String(err));
      result.error = `internal error: ${error.message}`;
      session.log(
        "debug",
        `internal error in stage ${result.stage}: ${error.stack ?? error.message}`,
      );
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
    await session.connection?.abort();
  }
  redactResult(result, redact);
  return result;
}

/**
 * The stage a failure is reported in: the one that was running (errors carry no stage of
 * their own). One refinement: the first request waits for the bootstrap, so a failure before the
 * helper started (ssh refused, no Node.js, sudo asked for a password) is "connect", not "info".
 */
function labelled(running: Stage, connection: Connection | null): Stage {
  return running === "info" && connection !== null && !connection.helperStarted
    ? "connect"
    : running;
}

async function connect(s: Session): Promise<void> {
  if (s.aborted()) throw interrupted("connect");
  s.log("verbose", `connecting (${s.host.connection})`);
  const transport = transportFor(s.config, s.host);
  const verbose = LOG_LEVELS.indexOf(s.options.logLevel ?? "info") >= LOG_LEVELS.indexOf("verbose");
  await transport.prepare(verbose);
  s.connection = new Connection(
    transport,
    helperBundle(),
    s.log,
    s.options.timeoutMs,
    runtimeSource(s.options.fetchProgress),
  );
  const reuse = transport.reuse();
  if (reuse !== null) s.log("verbose", reuse);
}

/** Asks for the host's facts and runs the detect_groups and detect_vars commands (SPEC 3.4). */
async function info(s: Session): Promise<void> {
  const connection = open(s);
  const commands = s.config.global.detect_groups;
  const varCommands = s.config.global.detect_vars;
  const info = expect(
    await connection.request({
      type: "info_request",
      version: PROTOCOL_VERSION,
      detect_groups: commands,
      detect_vars: varCommands,
      log_level: s.options.logLevel ?? "info",
    }),
    "info_response",
  );
  if (info.version !== PROTOCOL_VERSION) {
    throw new HostError(`helper speaks protocol ${info.version}, expected ${PROTOCOL_VERSION}`);
  }
  const detected = detectedGroups(commands, info.detect_groups);
  const facts = factValues(info.facts, detectedVars(varCommands, info.detect_vars, BUILT_IN_FACTS));
  s.facts = { detected, uid: info.uid, gid: info.gid, facts };
  s.result.runtime = connection.runtime;
  s.log("verbose", `host runs ${info.os}/${info.arch}; ${describeRuntime(connection.runtime)}`);
  s.log("debug", `facts: ${JSON.stringify(facts)}`);
}

/** The host's groups (detected ones included) and its configuration to send. */
async function build(s: Session): Promise<"done" | void> {
  const connection = open(s);
  s.result.groups = hostGroups(s.config, s.host.name, s.facts.detected);
  if (s.options.isTarget !== undefined && !s.options.isTarget(s.result.groups)) {
    // Named through a group whose members depend on detected groups, and not a member.
    s.log("verbose", "not one of the named hosts or groups after detecting its groups: skipped");
    s.result.notTarget = true;
    await connection.close();
    s.connection = null;
    return "done";
  }
  s.built = buildHost(s.config, s.host, s.facts);
  s.log("verbose", `sending ${s.built.files.length} file(s)`);
}

/** Sends the configuration, the content the helper asks for, and checks its answer. */
async function sync(s: Session): Promise<void> {
  const connection = open(s);
  const built = s.built;
  if (built === null) throw new Error("sync stage without a built configuration");
  if (s.aborted()) throw interrupted("sync");
  const { dryRun } = s.options;
  let reply = await connection.request({
    type: "sync_request",
    dry_run: dryRun,
    log_level: s.options.logLevel ?? "info",
    root: s.host.root,
    files: built.files,
    packages: built.packages,
    services: built.services,
    triggers: built.triggers,
    commands: built.commands,
  });
  if (reply.type === "content_request" && !dryRun) {
    if (s.aborted()) throw interrupted("sync");
    const { message, attachment } = contentFor(built, reply.paths);
    s.log("verbose", `sending the content of ${reply.paths.length} file(s)`);
    reply = await connection.request(message, attachment);
  }
  const response = expect(reply, "sync_response");
  applyResponse(s.result, built, response);
  await connection.close();
  s.connection = null;
  if (response.error !== null) throw new HostError(response.error);
}

/** The connection the "connect" stage opened. */
function open(s: Session): Connection {
  if (s.connection === null) throw new Error("no connection: the connect stage did not run");
  return s.connection;
}

/** The bundled runtime's package from the workstation's cache, fetched (with progress to
 * `progress`) if needed. */
function runtimeSource(progress: SyncOptions["fetchProgress"]): RuntimeSource {
  return async (arch) =>
    (await runtimePackageOnce(arch, progress ?? { write: () => {}, isTTY: false })).data;
}

function describeRuntime(runtime: RuntimeInfo | null): string {
  if (runtime === null) return "Node.js (unknown)";
  return runtime.kind === "host"
    ? `the helper runs on the host's Node.js ${runtime.version}`
    : `the helper runs on the bundled runtime, Node.js ${runtime.version}${runtime.uploaded ? ", uploaded by this sync" : ", already on the host"}`;
}
