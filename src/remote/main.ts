// The helper's entry point. The bootstrap evaluates the bundle with the
// host's `require`; from then on standard input carries frames from the local
// side and standard output carries frames back, nothing else (SPEC 8).

import { Console } from "node:console";
import { FrameDecoder, MAX_FRAME_TO_HELPER, encodeFrame, type Frame } from "../protocol/frame.ts";
import {
  KEEPALIVE_INTERVAL,
  LOG_LEVELS,
  MAX_OUTPUT,
  PROTOCOL_VERSION,
  type DetectResult,
  type InfoRequest,
  type InfoResponse,
  type LogLevel,
  type Request,
  type Response,
} from "../protocol/messages.ts";
import { checkStop, requestStop } from "./abort.ts";
import { TRUNCATED_NOTE, runShell } from "./commands.ts";
import { clip, type Log } from "./log.ts";
import { readFacts } from "./facts.ts";
import { osName } from "./os.ts";
import { hostStateDir } from "./pending.ts";
import { parseRequest } from "./request.ts";
import { handleSync, type FetchContent } from "./sync.ts";
import { loadUserDb, processOwner } from "./users.ts";

/** Anything printed through console.* goes to standard error, never between the frames. */
function redirectConsole(): void {
  const stderr = new Console({ stdout: process.stderr, stderr: process.stderr });
  console.log = (...args: unknown[]) => stderr.log(...args);
  console.info = (...args: unknown[]) => stderr.info(...args);
  console.debug = (...args: unknown[]) => stderr.debug(...args);
  console.warn = (...args: unknown[]) => stderr.warn(...args);
  console.dir = (item?: unknown, options?: object) => stderr.dir(item, options);
  console.table = (data?: unknown, columns?: string[]) => stderr.table(data, columns);
}

function send(message: Response, attachment?: Buffer[]): void {
  for (const part of encodeFrame(message, attachment)) process.stdout.write(part);
}

let exiting = false;

/** Exits once everything written to standard output has been handed to the OS. */
function exit(code: number): void {
  exiting = true;
  process.stdout.write("", () => process.exit(code));
}

function fatal(err: unknown): void {
  if (exiting) return;
  const message = err instanceof Error ? err.message : String(err);
  send({ type: "error", message: clip(message) });
  exit(1);
}

/** The most detailed level the local side asked for; lines below it are not sent (SPEC 8). */
let maxLevel = LOG_LEVELS.indexOf("info");

const log: Log = (level: LogLevel, text: string) => {
  if (LOG_LEVELS.indexOf(level) <= maxLevel) send({ type: "log", level, text: clip(text) });
};

/** Runs detect_groups or detect_vars commands (SPEC 3.4), one after another. */
async function detect(commands: string[], what: string): Promise<DetectResult[]> {
  const results: DetectResult[] = [];
  for (const command of commands) {
    log("verbose", `detecting ${what}: running ${JSON.stringify(command)}`);
    checkStop();
    const run = await runShell(command, {
      combined: false,
      limit: MAX_OUTPUT - TRUNCATED_NOTE.length,
      stoppable: true,
    });
    checkStop();
    results.push({ command, exit_code: run.exitCode, output: run.stdout, stderr: run.stderr });
  }
  return results;
}

async function info(request: InfoRequest): Promise<InfoResponse> {
  const groups = await detect(request.detect_groups, "groups");
  const vars = await detect(request.detect_vars, "facts");
  const owner = processOwner(loadUserDb());
  return {
    type: "info_response",
    version: PROTOCOL_VERSION,
    os: osName(),
    arch: process.arch,
    node_version: process.versions.node,
    ...owner,
    detect_groups: groups,
    detect_vars: vars,
    facts: readFacts(),
  };
}

/** Frames from standard input, one at a time, in order; null when the input has ended. */
class FrameReader {
  private readonly frames: Frame[] = [];
  private waiter: ((frame: Frame | null) => void) | null = null;
  private ended = false;

  push(frames: Frame[]): void {
    this.frames.push(...frames);
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  next(): Promise<Frame | null> {
    const frame = this.frames.shift();
    if (frame !== undefined || this.ended) return Promise.resolve(frame ?? null);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter === null) return;
    this.waiter = null;
    const frame = this.frames.shift();
    if (frame !== undefined || this.ended) waiter(frame ?? null);
    else this.waiter = waiter;
  }
}

async function answer(request: Request, attachment: Buffer, reader: FrameReader): Promise<void> {
  if (request.type !== "content") maxLevel = LOG_LEVELS.indexOf(request.log_level);
  if (request.type === "info_request") {
    if (request.version !== PROTOCOL_VERSION) {
      throw new Error(
        `protocol version ${request.version} is not supported by this helper (${PROTOCOL_VERSION})`,
      );
    }
    send(await info(request));
    return;
  }
  if (request.type !== "sync_request") throw new Error(`unexpected ${request.type} message`);
  checkStop(); // told to stop before the sync began: change nothing
  log("debug", `sync: ${request.files.length} file(s)${request.dry_run ? " (dry-run)" : ""}`);
  const fetchContent: FetchContent = async (paths) => {
    send({ type: "content_request", paths });
    const frame = await reader.next();
    if (frame === null) {
      checkStop(); // the local side closed standard input to stop the helper
      throw new Error("standard input ended while waiting for file content");
    }
    const reply = parseRequest(frame.header, frame.attachment.length);
    if (reply.type !== "content") throw new Error(`expected content, got ${reply.type}`);
    return { files: reply.files, data: frame.attachment };
  };
  const reply = await handleSync(request, attachment, {
    log,
    fetchContent,
    stateDir: hostStateDir(),
  });
  send(reply.response, reply.attachment);
}

/** Answers one request after another until standard input ends. */
async function serve(reader: FrameReader, decoder: FrameDecoder): Promise<void> {
  for (;;) {
    const frame = await reader.next();
    if (frame === null) break;
    const request = parseRequest(frame.header, frame.attachment.length);
    // detect_groups commands, apt-get install, systemctl start and user commands
    // can stay silent far longer than the local side's inactivity timeout: say
    // that the helper is still working.
    const keepalive = setInterval(() => {
      if (!exiting) send({ type: "keepalive" });
    }, KEEPALIVE_INTERVAL);
    try {
      await answer(request, frame.attachment, reader);
    } finally {
      clearInterval(keepalive);
    }
  }
  if (decoder.pending > 0) throw new Error("standard input ended in the middle of a frame");
  exit(0);
}

export function main(): void {
  redirectConsole();
  process.stdout.on("error", () => process.exit(1)); // the local side is gone
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  const decoder = new FrameDecoder(MAX_FRAME_TO_HELPER);
  const reader = new FrameReader();
  process.stdin.on("data", (chunk: Buffer) => {
    if (exiting) return;
    try {
      reader.push(decoder.push(chunk));
    } catch (err) {
      fatal(err);
    }
  });
  // Interruption (SPEC 5.5): a signal, or the local side closing standard input, stops the
  // helper before its next change. The local side closes it after the last reply too; then
  // nothing is running and the request loop ends.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, requestStop);
  process.stdin.on("end", () => {
    requestStop();
    reader.end();
  });
  serve(reader, decoder).catch(fatal);
}

main();
