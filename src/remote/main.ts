// The helper's entry point. The bootstrap evaluates the bundle with the
// host's `require`; from then on standard input carries frames from the local
// side and standard output carries frames back, nothing else (SPEC 8).

import { Console } from "node:console";
import { FrameDecoder, MAX_FRAME_TO_HELPER, encodeFrame, type Frame } from "../protocol/frame.ts";
import {
  KEEPALIVE_INTERVAL,
  MAX_OUTPUT,
  PROTOCOL_VERSION,
  type DetectResult,
  type InfoRequest,
  type InfoResponse,
  type LogLevel,
  type Request,
  type Response,
} from "../protocol/messages.ts";
import { TRUNCATED_NOTE, runShell } from "./commands.ts";
import { clip, type Log } from "./log.ts";
import { osName } from "./os.ts";
import { parseRequest } from "./request.ts";
import { handleSync } from "./sync.ts";
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

const log: Log = (level: LogLevel, text: string) => send({ type: "log", level, text: clip(text) });

async function info(request: InfoRequest): Promise<InfoResponse> {
  const detect: DetectResult[] = [];
  for (const command of request.detect_groups) {
    log("verbose", `detecting groups: running ${JSON.stringify(command)}`);
    const run = await runShell(command, {
      combined: false,
      limit: MAX_OUTPUT - TRUNCATED_NOTE.length,
    });
    detect.push({ command, exit_code: run.exitCode, output: run.stdout, stderr: run.stderr });
  }
  const owner = processOwner(loadUserDb());
  return {
    type: "info_response",
    version: PROTOCOL_VERSION,
    os: osName(),
    arch: process.arch,
    node_version: process.versions.node,
    ...owner,
    detect_groups: detect,
  };
}

async function handle(frame: Frame): Promise<void> {
  if (exiting) return;
  const request = parseRequest(frame.header, frame.attachment.length);
  // detect_groups commands, apt-get install, systemctl start and user commands
  // can stay silent far longer than the local side's inactivity timeout: say
  // that the helper is still working.
  const keepalive = setInterval(() => {
    if (!exiting) send({ type: "keepalive" });
  }, KEEPALIVE_INTERVAL);
  try {
    await answer(request, frame.attachment);
  } finally {
    clearInterval(keepalive);
  }
}

async function answer(request: Request, attachment: Buffer): Promise<void> {
  if (request.type === "info_request") {
    if (request.version !== PROTOCOL_VERSION) {
      throw new Error(
        `protocol version ${request.version} is not supported by this helper (${PROTOCOL_VERSION})`,
      );
    }
    send(await info(request));
    return;
  }
  log("debug", `sync: ${request.files.length} file(s)${request.dry_run ? " (dry-run)" : ""}`);
  const reply = await handleSync(request, attachment, log);
  send(reply.response, reply.attachment);
}

export function main(): void {
  redirectConsole();
  process.stdout.on("error", () => process.exit(1)); // the local side is gone
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  const decoder = new FrameDecoder(MAX_FRAME_TO_HELPER);
  let queue: Promise<void> = Promise.resolve();
  process.stdin.on("data", (chunk: Buffer) => {
    if (exiting) return;
    let frames: Frame[];
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      fatal(err);
      return;
    }
    for (const frame of frames) queue = queue.then(() => handle(frame)).catch(fatal);
  });
  process.stdin.on("end", () => {
    void queue.then(() => {
      if (decoder.pending > 0) fatal(new Error("standard input ended in the middle of a frame"));
      else if (!exiting) exit(0);
    });
  });
}

main();
