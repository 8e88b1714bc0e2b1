// The sync of one host, as a list of named stages:
// connect -> info (detect groups) -> build -> sync -> result.

import type { Config } from "../config/load.ts";
import { redactor, secretValues } from "../config/secrets.ts";
import type { HostConfig } from "../config/types.ts";
import { buildHost, hostGroups, type BuiltHost } from "../build/host-config.ts";
import { HostError } from "../errors.ts";
import { PROTOCOL_VERSION } from "../protocol/messages.ts";
import type { ContentMessage, DetectResult, LogLevel, SyncResponse } from "../protocol/messages.ts";
import { helperBundle } from "../transport/bootstrap.ts";
import { LocalTransport } from "../transport/local.ts";
import { SshTransport } from "../transport/ssh.ts";
import type { RuntimeInfo, Transport } from "../transport/transport.ts";
import { runtimePackageOnce } from "../runtime/cache.ts";
import { Connection, type Reply, type RuntimeSource } from "./connection.ts";
import { redactResult } from "./redact.ts";
import { diffHidden, type FileResult, type HostResult } from "./result.ts";

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
}

/** The error of a host whose sync was interrupted before a request could be sent. */
function interrupted(stage: "connect" | "sync"): HostError {
  const what = stage === "connect" ? "the host was not contacted" : "nothing was changed";
  return new HostError(`interrupted: ${what}`, stage);
}

const DETECTED_NAME = /^[a-z0-9_-]+$/;

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

/** Syncs one host; never throws: a failure (even an internal error) is part of the result. */
export async function syncHost(
  config: Config,
  host: HostConfig,
  options: SyncOptions,
): Promise<HostResult> {
  const result: HostResult = {
    name: host.name,
    ok: true,
    error: null,
    stage: null,
    groups: [],
    files: [],
    packages: [],
    services: [],
    commands: [],
    skipped: false,
  };
  const redact = redactor(secretValues(config));
  const log = (level: LogLevel, text: string) => options.onLog(host.name, level, redact(text));
  let connection: Connection | null = null;
  const stop = () => connection?.interrupt();
  const aborted = () => options.signal?.aborted === true;
  options.signal?.addEventListener("abort", stop);
  try {
    if (aborted()) throw interrupted("connect");
    log("verbose", `connecting (${host.connection})`);
    const transport = transportFor(config, host);
    await transport.prepare();
    connection = new Connection(transport, helperBundle(), log, options.timeoutMs, runtimeSource);
    const reuse = transport.reuse();
    if (reuse !== null) log("verbose", reuse);

    const commands = config.global.detect_groups;
    const info = expect(
      await connection.request({
        type: "info_request",
        version: PROTOCOL_VERSION,
        detect_groups: commands,
        log_level: options.logLevel ?? "info",
      }),
      "info_response",
    );
    if (info.version !== PROTOCOL_VERSION) {
      throw new HostError(
        `helper speaks protocol ${info.version}, expected ${PROTOCOL_VERSION}`,
        "info",
      );
    }
    const detected = detectedGroups(commands, info.detect_groups);
    result.runtime = connection.runtime;
    log("verbose", `host runs ${info.os}/${info.arch}; ${describeRuntime(connection.runtime)}`);

    result.groups = hostGroups(config, host.name, detected);
    if (options.isTarget !== undefined && !options.isTarget(result.groups)) {
      // Named through a group whose members depend on detected groups, and not a member.
      log("verbose", "not one of the named hosts or groups after detecting its groups: skipped");
      result.skipped = true;
      await connection.close();
      connection = null;
      return result;
    }
    const built = buildHost(config, host, { detected, uid: info.uid, gid: info.gid });
    log("verbose", `sending ${built.files.length} file(s)`);
    if (aborted()) throw interrupted("sync");

    let reply = await connection.request({
      type: "sync_request",
      dry_run: options.dryRun,
      log_level: options.logLevel ?? "info",
      root: host.root,
      files: built.files,
      packages: built.packages,
      services: built.services,
      triggers: built.triggers,
      commands: built.commands,
    });
    if (reply.type === "content_request" && !options.dryRun) {
      if (aborted()) throw interrupted("sync");
      const { message, attachment } = contentFor(built, reply.paths);
      log("verbose", `sending the content of ${reply.paths.length} file(s)`);
      reply = await connection.request(message, attachment);
    }
    const response = expect(reply, "sync_response");
    applyResponse(result, built, response);
    await connection.close();
    connection = null;
    if (response.error !== null) throw new HostError(response.error, "sync");
  } catch (err) {
    // A failing host never stops the others, not even through a bug of ours.
    result.ok = false;
    result.error = err instanceof HostError ? err.message : `internal error: ${String(err)}`;
    result.stage = err instanceof HostError ? err.stage : "sync";
  } finally {
    options.signal?.removeEventListener("abort", stop);
    await connection?.abort();
  }
  redactResult(result, redact);
  return result;
}

/** The bundled runtime's package from the workstation's cache, fetched (with progress) if needed. */
const runtimeSource: RuntimeSource = async (arch) =>
  (
    await runtimePackageOnce(arch, {
      write: (t) => process.stderr.write(t),
      isTTY: process.stderr.isTTY,
    })
  ).data;

function describeRuntime(runtime: RuntimeInfo | null): string {
  if (runtime === null) return "Node.js (unknown)";
  return runtime.kind === "host"
    ? `the helper runs on the host's Node.js ${runtime.version}`
    : `the helper runs on the bundled runtime, Node.js ${runtime.version}${runtime.uploaded ? ", uploaded by this sync" : ", already on the host"}`;
}

function expect<T extends Reply["type"]>(reply: Reply, type: T): Extract<Reply, { type: T }> {
  if (reply.type !== type) {
    throw new HostError(`protocol error: expected ${type}, got ${reply.type}`, "sync");
  }
  return reply as Extract<Reply, { type: T }>;
}

/** SPEC 3.4: every non-empty line, trimmed and lower-cased, is a group detected_<line>. */
export function detectedGroups(commands: string[], results: DetectResult[]): string[] {
  if (results.length !== commands.length || results.some((r, i) => r.command !== commands[i])) {
    throw new HostError(
      "protocol error: detect_groups results do not match the commands sent",
      "info",
    );
  }
  const groups = new Set<string>();
  for (const r of results) {
    if (r.exit_code !== 0) {
      const output = (r.output + r.stderr).trim();
      throw new HostError(
        `detect_groups command "${r.command}" failed with exit status ${r.exit_code}${output === "" ? "" : `: ${output}`}`,
        "info",
      );
    }
    for (const raw of r.output.split("\n")) {
      const line = raw.trim().toLowerCase();
      if (line === "") continue;
      if (!DETECTED_NAME.test(line)) {
        throw new HostError(
          `detect_groups command "${r.command}" printed an invalid group name "${line}" (allowed: a-z, 0-9, _ and -)`,
          "info",
        );
      }
      groups.add(`detected_${line}`);
    }
  }
  return [...groups].sort();
}

/** The Content message for a ContentRequest: only regular files that were sent, each once. */
function contentFor(
  built: BuiltHost,
  paths: string[],
): { message: ContentMessage; attachment: Buffer[] } {
  const files = new Map(built.files.map((f) => [f.path, f]));
  const seen = new Set<string>();
  const message: ContentMessage = { type: "content", files: [] };
  const attachment: Buffer[] = [];
  let offset = 0;
  for (const path of paths) {
    const content = built.content.get(path);
    if (files.get(path)?.type !== "file" || content === undefined || seen.has(path)) {
      throw new HostError(
        `protocol error: helper asked for content that was not offered: "${path}"`,
        "sync",
      );
    }
    seen.add(path);
    message.files.push({ path, data_offset: offset, data_length: content.length });
    attachment.push(content);
    offset += content.length;
  }
  return { message, attachment };
}

/** Checks the response against the request (only paths and items that were sent) and fills the result. */
function applyResponse(
  result: HostResult,
  built: BuiltHost,
  reply: Extract<Reply, { type: "sync_response" }>,
): void {
  const sent = new Map(built.files.map((f) => [f.path, f]));
  const seen = new Set<string>();
  const files: FileResult[] = [];
  for (const change of reply.files) {
    const entry = sent.get(change.path);
    if (entry === undefined || seen.has(change.path)) {
      throw new HostError(
        `protocol error: helper reported a path that was not sent: "${change.path}"`,
        "sync",
      );
    }
    seen.add(change.path);
    const old =
      change.old_data_offset === undefined
        ? null
        : reply.attachment.subarray(
            change.old_data_offset,
            change.old_data_offset + (change.old_data_length ?? 0),
          );
    const file: FileResult = {
      path: change.path,
      created: change.created,
      old: change.old,
      new: change.new,
      contentChanged: change.content_changed,
      aclRemoved: change.acl_removed === true,
      oldContent: old === null ? null : Buffer.from(old),
      oldSize: change.old_size ?? (change.old !== null && old !== null ? old.length : null),
      newContent: change.content_changed ? (built.content.get(change.path) ?? null) : null,
      diffHidden: null,
    };
    // The one place that decides whether a diff is withheld (SPEC 5.1): a withheld diff's
    // contents are dropped here, so no report path can print them.
    file.diffHidden = diffHidden(
      { ...file, newContent: built.content.get(change.path) ?? null },
      built.secrets,
    );
    if (file.diffHidden !== null) {
      file.oldContent = null;
      file.newContent = null;
    }
    files.push(file);
  }
  result.files = files;
  checkSubset(reply, built);
  result.packages = reply.packages.map((p) => p.name);
  result.services = reply.services;
  result.commands = reply.commands;
}

function checkSubset(reply: SyncResponse, built: BuiltHost): void {
  const packages = new Set(built.packages);
  const services = new Set(built.services);
  const commands = new Set([...built.commands, ...built.triggers.flatMap((t) => t.commands)]);
  const triggers = new Set(built.triggers.map((t) => t.path));
  const bad =
    reply.packages.find((p) => !packages.has(p.name))?.name ??
    reply.services.find((s) => !services.has(s.name))?.name ??
    reply.commands.find(
      (c) => !commands.has(c.command) || (c.trigger !== null && !triggers.has(c.trigger)),
    )?.command;
  if (bad !== undefined) {
    throw new HostError(
      `protocol error: helper reported an item that was not sent: "${bad}"`,
      "sync",
    );
  }
}
