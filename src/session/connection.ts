// One running helper: writes the bundle and requests, reads and validates
// frames, and turns every way the helper can go away into one clear error.

import { encodeFrame, FrameDecoder, FrameError, MAX_FRAME_FROM_HELPER } from "../protocol/frame.ts";
import type { LogLevel, Request, Response } from "../protocol/messages.ts";
import { validateResponse, ValidationError } from "../protocol/validate.ts";
import { HostError } from "../errors.ts";
import type { RuntimeArch } from "../runtime/pin.ts";
import {
  explainBootstrapFailure,
  MAX_STATUS_LINE,
  parseStatus,
  type BootstrapStatus,
} from "../transport/bootstrap.ts";
import type { HelperProcess, RuntimeInfo, Transport } from "../transport/transport.ts";

/** How much of the helper's stderr is kept to explain a failure. */
const MAX_STDERR = 64 * 1024;
/** Log lines one host may send; a helper that floods the terminal is stopped. */
export const MAX_LOG_LINES = 100_000;
/** How long an interrupted helper has to stop and report before it gets SIGTERM (SPEC 5.5). */
export const INTERRUPT_GRACE_MS = 5000;

export type Reply = Exclude<Response, { type: "log" | "keepalive" }> & { attachment: Buffer };

/** Gives the bytes of the bundled runtime's package when a host asks for an upload. */
export type RuntimeSource = (arch: RuntimeArch) => Promise<Buffer>;

export class Connection {
  private readonly child: HelperProcess;
  private readonly decoder = new FrameDecoder(MAX_FRAME_FROM_HELPER);
  /** The reply that arrived for the pending request before anyone waited for it. */
  private reply: Reply | null = null;
  /** A request was sent and its reply has not arrived: any other reply is a protocol error. */
  private pending = false;
  private waiter: ((r: Reply | Error) => void) | null = null;
  private failure: Error | null = null;
  private stderr = "";
  private readonly exited: Promise<void>;
  private logLines = 0;
  private roundTrips = 0;
  private bytesSent = 0;
  private bytesReceived = 0;
  private readonly started = Date.now();
  private readonly helperLength: number;
  private timer: NodeJS.Timeout | null = null;
  /** Until the bootstrap's "run" line: stdout is status lines, not frames. */
  private status: Buffer | null = Buffer.alloc(0);
  private readonly helper: Buffer;
  private readonly ready: Promise<void>;
  private readyResolve: () => void = () => undefined;
  private readyReject: (err: Error) => void = () => undefined;
  private bytesUploaded = 0;
  /** interrupt() was called (SIGINT/SIGTERM, SPEC 5.5). */
  private interrupted = false;
  /** Which Node.js runs the helper, once the bootstrap said so. */
  runtime: RuntimeInfo | null = null;

  /**
   * @param timeoutMs how long the helper may stay silent while a request is
   * pending (it sends keepalives while it works) before the host fails.
   */
  constructor(
    private readonly transport: Transport,
    helper: Buffer,
    private readonly onLog: (level: LogLevel, text: string) => void,
    private readonly timeoutMs: number,
    private readonly runtimeSource: RuntimeSource | null = null,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => undefined);
    this.child = transport.start(helper.length);
    this.helper = helper;
    this.helperLength = helper.length;
    this.child.stdin.on("error", () => {
      // EPIPE when the helper died; its exit explains why.
    });
    this.child.stderr.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-MAX_STDERR);
    });
    this.child.stdout.on("data", (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      if (this.status !== null) this.receiveStatus(chunk);
      else this.receive(chunk);
    });
    this.exited = new Promise((resolve) => {
      this.child.on("error", (err) => {
        this.fail(new HostError(`cannot start the connection: ${err.message}`));
        resolve();
      });
      this.child.on("close", (code, signal) => {
        if (this.failure === null) this.fail(this.exitError(code, signal));
        resolve();
      });
    });
  }

  /** Whether the bootstrap has started the helper; until then the connection is still being
   * set up (the first request waits for it), so a failure belongs to the "connect" stage. */
  get helperStarted(): boolean {
    return this.status === null;
  }

  /** Sends a request and waits for its reply (log messages go to onLog meanwhile). */
  async request(request: Request, attachment: Buffer[] = []): Promise<Reply> {
    this.pending = true;
    this.armTimer();
    try {
      await this.ready;
    } catch (err) {
      this.disarmTimer();
      throw err;
    }
    const sent = Date.now();
    let bytes = 0;
    for (const part of encodeFrame(request, attachment)) {
      bytes += part.length;
      this.child.stdin.write(part);
    }
    this.bytesSent += bytes;
    this.armTimer();
    let reply: Reply;
    try {
      reply = await this.next();
    } finally {
      this.disarmTimer();
    }
    // The number of round trips per host is constant, whatever the number of files (SPEC 1.5).
    this.onLog(
      "debug",
      `round trip ${++this.roundTrips}: ${request.type} (${bytes} bytes) -> ${reply.type} ` +
        `(${reply.attachment.length} bytes attached) in ${Date.now() - sent} ms, ${Date.now() - this.started} ms since start`,
    );
    if (reply.type === "error") {
      throw new HostError(`helper failed: ${reply.message}`);
    }
    return reply;
  }

  /** Ends the conversation: closes stdin and waits for the helper to exit. */
  async close(): Promise<void> {
    this.onLog(
      "debug",
      `${this.roundTrips} round trip(s); sent ${this.bytesSent} bytes (helper ${this.helperLength}, runtime ${this.bytesUploaded}), received ${this.bytesReceived} bytes`,
    );
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  /**
   * Interruption (SPEC 5.5): closes the helper's standard input, so that it stops before its
   * next change and still sends its reply; SIGTERM after INTERRUPT_GRACE_MS, SIGKILL after as
   * long again, for a helper (or an ssh) that does not end by itself.
   */
  interrupt(): void {
    this.interrupted = true;
    this.child.stdin.end();
    const term = setTimeout(() => this.child.kill("SIGTERM"), INTERRUPT_GRACE_MS);
    const kill = setTimeout(() => this.child.kill("SIGKILL"), 2 * INTERRUPT_GRACE_MS);
    void this.exited.then(() => {
      clearTimeout(term);
      clearTimeout(kill);
    });
  }

  /** Stops the helper at once (after an error). */
  async abort(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.exited;
  }

  private armTimer(): void {
    this.disarmTimer();
    this.timer = setTimeout(() => {
      this.fail(new HostError(`no answer from the helper for ${this.timeoutMs / 1000} s`));
      this.child.kill("SIGKILL");
    }, this.timeoutMs);
  }

  private disarmTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private next(): Promise<Reply> {
    const queued = this.reply;
    this.reply = null;
    if (queued !== null) return Promise.resolve(queued);
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = (r) => (r instanceof Error ? reject(r) : resolve(r));
    });
  }

  /** The bootstrap's status lines (bootstrap-sh.ts), until it starts the helper. */
  private receiveStatus(chunk: Buffer): void {
    if (this.failure !== null || this.status === null) return;
    let buffer = Buffer.concat([this.status, chunk]);
    for (let end = buffer.indexOf(10); end >= 0; end = buffer.indexOf(10)) {
      const line = buffer.subarray(0, end).toString("latin1");
      buffer = buffer.subarray(end + 1);
      const status = parseStatus(line);
      if (status === null) {
        return this.stop(
          new HostError(
            `unexpected output from the host before the helper started: "${line.slice(0, 200)}"`,
          ),
        );
      }
      this.onStatus(status);
      if (this.status === null) {
        // The helper runs now: the rest is frames.
        if (buffer.length > 0) this.receive(buffer);
        return;
      }
    }
    if (buffer.length > MAX_STATUS_LINE) {
      return this.stop(new HostError("protocol error: the bootstrap's status line is too long"));
    }
    this.status = buffer;
  }

  private onStatus(status: BootstrapStatus): void {
    // Interrupted while the bootstrap ran (uploading the runtime, say): the helper is not sent,
    // and the bootstrap, its standard input closed, ends by itself.
    if (this.interrupted && (status.type !== "fail" || status.reason === "short")) {
      this.fail(this.interruptedError());
      return;
    }
    if (status.type === "fail") {
      // The bootstrap exits by itself.
      this.fail(
        new HostError(explainBootstrapFailure(this.transport.host, status.reason, status.detail)),
      );
      return;
    }
    if (status.type === "upload") {
      this.upload(status.arch);
      return;
    }
    this.runtime = status.runtime;
    this.status = null;
    this.child.stdin.write(this.helper);
    this.bytesSent += this.helper.length;
    this.readyResolve();
  }

  /** Sends the runtime package the bootstrap asked for: "<size>\n<bytes>". */
  private upload(arch: RuntimeArch): void {
    if (this.runtimeSource === null) {
      return this.stop(new HostError("the host asked for the bundled runtime"));
    }
    // Nothing comes back while the package travels; the timer restarts once it is written.
    this.disarmTimer();
    this.runtimeSource(arch).then(
      (data) => {
        if (this.failure !== null) return;
        if (this.interrupted) return this.fail(this.interruptedError());
        this.onLog(
          "verbose",
          `uploading the bundled runtime (${arch}, ${(data.length / 1024 / 1024).toFixed(1)} MiB)`,
        );
        this.child.stdin.write(`${data.length}
`);
        this.child.stdin.write(data, () => {
          if (this.pending && this.failure === null) this.armTimer();
        });
        this.bytesUploaded += data.length;
        this.bytesSent += data.length + String(data.length).length + 1;
      },
      (err: unknown) =>
        this.stop(
          new HostError(
            `the host needs the bundled runtime, which is not available: ${err instanceof Error ? err.message : String(err)}`,
          ),
        ),
    );
  }

  /** Fails the connection and kills the bootstrap or helper. */
  private stop(err: HostError): void {
    this.disarmTimer();
    this.fail(err);
    this.child.kill("SIGKILL");
  }

  private receive(chunk: Buffer): void {
    if (this.failure !== null) return;
    try {
      for (const frame of this.decoder.push(chunk)) {
        const message = validateResponse(frame.header, frame.attachment.length);
        if (this.timer !== null) this.armTimer();
        if (message.type === "keepalive") continue;
        if (message.type === "log") {
          if (++this.logLines > MAX_LOG_LINES) {
            throw new ValidationError(`more than ${MAX_LOG_LINES} log lines`);
          }
          this.onLog(message.level, message.text);
          continue;
        }
        this.deliver({ ...message, attachment: frame.attachment });
      }
    } catch (err) {
      // Whatever a helper sends ends its host only, never the whole run.
      const message =
        err instanceof FrameError || err instanceof ValidationError ? err.message : String(err);
      this.disarmTimer();
      this.fail(new HostError(`protocol error: ${message}`, { cause: err }));
      this.child.kill("SIGKILL");
    }
  }

  private deliver(reply: Reply): void {
    if (!this.pending)
      throw new ValidationError(`unexpected ${reply.type}: no request is waiting for it`);
    this.pending = false;
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter !== null) waiter(reply);
    else this.reply = reply;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.readyReject(this.failure);
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter !== null) waiter(this.failure);
  }

  /** The error of a connection interrupted before the helper started: without it, the
   * bootstrap's exit for a helper source cut short (status 98) was all the report said. */
  private interruptedError(): HostError {
    const during = this.bytesUploaded > 0 ? " (during the upload of the bundled runtime)" : "";
    return new HostError(
      `interrupted while connecting${during}: the helper had not started, nothing was changed`,
    );
  }

  private exitError(code: number | null, signal: string | null): HostError {
    if (this.interrupted && this.status !== null) return this.interruptedError();
    const explained = this.transport.explainExit(code, signal, this.stderr);
    if (explained !== null) return new HostError(explained);
    const how = signal !== null ? `was killed by signal ${signal}` : `exited with status ${code}`;
    const detail = this.stderr.trim();
    return new HostError(
      `connection closed unexpectedly: helper ${how}${detail === "" ? "" : `: ${detail}`}`,
    );
  }
}
