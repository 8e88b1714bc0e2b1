// The Connection state machine (src/session/connection.ts) against a real
// child process: a small fake helper (written below) that says "run" like the
// bootstrap, reads the bundle and then speaks the frame protocol in the way
// its behaviour argument says. No ssh, no real helper: only the connection's
// own promises are under test (frames in order, replies matched to requests,
// every way the helper goes away turned into one error, the inactivity
// timeout, interruption).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { HostError } from "../../src/errors.ts";
import type { InfoRequest, LogLevel } from "../../src/protocol/messages.ts";
import { Connection } from "../../src/session/connection.ts";
import type { HelperProcess, Transport, TransportHost } from "../../src/transport/transport.ts";
import { tempDir } from "../helpers/tree.ts";

const { dir, cleanup } = tempDir("safcm-connection-");
after(cleanup);

const BUNDLE = Buffer.from("// the helper bundle the fake helper reads and checks\n".repeat(100));

const HELPER = join(dir, "fake-helper.mjs");
writeFileSync(
  HELPER,
  `
import { readSync } from "node:fs";
const [behaviour, helperLength] = process.argv.slice(2);
const BUNDLE = ${JSON.stringify(BUNDLE.toString("utf8"))};

/** n bytes of stdin, or null at its end. */
function readExactly(n) {
  const buf = Buffer.alloc(n);
  let off = 0;
  while (off < n) {
    const r = readSync(0, buf, off, n - off, null);
    if (r === 0) return null;
    off += r;
  }
  return buf;
}
function readFrame() {
  const prefix = readExactly(4);
  if (prefix === null) return null;
  const payload = readExactly(prefix.readUInt32BE(0));
  return JSON.parse(payload.subarray(4, 4 + payload.readUInt32BE(0)).toString());
}
function frame(header) {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32BE(4 + json.length, 0);
  prefix.writeUInt32BE(json.length, 4);
  return Buffer.concat([prefix, json]);
}
const write = (b) => new Promise((resolve) => process.stdout.write(b, resolve));
const hang = () => new Promise(() => setInterval(() => {}, 1 << 30));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const info = (user) => ({
  type: "info_response", version: 1, os: "debian", arch: "x64", node_version: "20.0.0",
  uid: 0, gid: 0, user, group: "root", detect_groups: [], detect_vars: [],
  facts: { hostname: "h", os: "linux", arch: "x64", kernel: "6.1.0", os_id: "debian",
    os_version_id: "12", os_codename: "bookworm", os_like: "", ipv4: [], ipv6: [], cpus: 1,
    memory_mib: 512 },
});
const log = (text) => frame({ type: "log", level: "info", text });

if (behaviour === "exit-before-run") {
  process.stderr.write("cannot start: no such thing\\n");
  process.exit(3);
}
await write("safcm-bootstrap: run host 20.0.0 -\\n");
const bundle = readExactly(Number(helperLength));
if (bundle === null || bundle.toString() !== BUNDLE) {
  process.stderr.write("bundle damaged\\n");
  process.exit(9);
}
switch (behaviour) {
  case "ordered":
    // Every request: 20 log lines with keepalives between them, each its own
    // write, then the reply cut into pieces inside its length prefix and its JSON.
    for (let i = 1; ; i++) {
      const request = readFrame();
      if (request === null) break;
      for (let j = 1; j <= 20; j++) {
        await write(log(\`request \${i} (\${request.type}) line \${j}\`));
        await write(frame({ type: "keepalive" }));
      }
      const reply = frame(info(\`user\${i}\`));
      for (const [from, to] of [[0, 2], [2, 11], [11, reply.length]]) await write(reply.subarray(from, to));
    }
    break;
  case "exit-mid-request":
    readFrame();
    await write(log("about to exit"));
    process.stderr.write("boom: out of memory\\n");
    process.exit(3);
    break;
  case "killed-mid-request":
    readFrame();
    process.kill(process.pid, "SIGKILL");
    break;
  case "error-reply":
    readFrame();
    await write(frame({ type: "error", message: "disk full" }));
    break;
  case "extra-reply":
    readFrame();
    await write(frame(info("first")));
    await write(frame(info("nobody asked")));
    while (readExactly(1) !== null);
    break;
  case "silent":
    readFrame();
    await hang();
    break;
  case "keepalives":
    readFrame();
    // Keepalives 20 ms apart for 2 s by the helper's own clock, then the reply.
    for (const start = Date.now(); Date.now() - start < 2000; ) {
      await write(frame({ type: "keepalive" }));
      await sleep(20);
    }
    await write(frame(info("patient")));
    while (readExactly(1) !== null);
    break;
  case "interruptible":
    // Like the real helper: stops at the end of its standard input and still replies.
    readFrame();
    await write(log("working"));
    while (readExactly(1) !== null);
    await write(frame(info("stopped")));
    break;
  default:
    process.stderr.write("unknown behaviour\\n");
    process.exit(2);
}
`,
);

class FakeTransport implements Transport {
  readonly host: TransportHost = {
    name: "fake",
    connection: "local",
    sshUser: null,
    node: process.execPath,
    sshConfig: null,
    sudo: false,
    sshPersist: 0,
    runtime: "host",
  };
  constructor(private readonly behaviour: string) {}
  prepare(): Promise<void> {
    return Promise.resolve();
  }
  start(helperLength: number): HelperProcess {
    return spawn(process.execPath, [HELPER, this.behaviour, String(helperLength)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
  }
  reuse(): string | null {
    return null;
  }
  explainExit(): string | null {
    return null;
  }
}

const INFO: InfoRequest = {
  type: "info_request",
  version: 1,
  detect_groups: [],
  detect_vars: [],
  log_level: "info",
};

/** A connection to a fake helper; `logs` receives its log lines (not the connection's own debug lines). */
function connect(behaviour: string, timeoutMs = 30_000, onLog?: (text: string) => void) {
  const logs: string[] = [];
  const connection = new Connection(
    new FakeTransport(behaviour),
    BUNDLE,
    (level: LogLevel, text: string) => {
      if (level !== "info") return;
      logs.push(text);
      onLog?.(text);
    },
    timeoutMs,
  );
  return { connection, logs };
}

test("log lines arrive in order, before their reply; replies are matched to requests in order, however the frames are cut", async () => {
  const { connection, logs } = connect("ordered");
  const first = await connection.request(INFO);
  logs.push("<reply 1>");
  const second = await connection.request(INFO);
  logs.push("<reply 2>");
  await connection.close();
  assert.equal(first.type === "info_response" && first.user, "user1");
  assert.equal(second.type === "info_response" && second.user, "user2");
  const lines = (i: number) =>
    Array.from({ length: 20 }, (_, j) => `request ${i} (info_request) line ${j + 1}`);
  assert.deepEqual(logs, [...lines(1), "<reply 1>", ...lines(2), "<reply 2>"]);
  assert.equal(connection.runtime?.kind, "host");
  assert.equal(connection.runtime?.version, "20.0.0");
});

test("a helper that exits before it runs or in the middle of a request: one error with its status and stderr", async () => {
  const before = connect("exit-before-run").connection;
  await assert.rejects(before.request(INFO), (err: unknown) => {
    assert.ok(err instanceof HostError);
    assert.match(err.message, /helper exited with status 3: cannot start: no such thing$/);
    return true;
  });
  const { connection, logs } = connect("exit-mid-request");
  await assert.rejects(
    connection.request(INFO),
    /^HostError: connection closed unexpectedly: helper exited with status 3: boom: out of memory$/,
  );
  assert.deepEqual(logs, ["about to exit"], "what it said before it went is kept");
  await connection.close(); // nothing left to wait for: returns at once
  await assert.rejects(connection.request(INFO), /helper exited with status 3/, "and stays failed");

  const killed = connect("killed-mid-request").connection;
  await assert.rejects(killed.request(INFO), /helper was killed by signal SIGKILL$/);
});

test("an error message from the helper fails the request with its text", async () => {
  const { connection } = connect("error-reply");
  await assert.rejects(connection.request(INFO), /^HostError: helper failed: disk full$/);
  await connection.close();
});

test("a reply nobody asked for is a protocol error that ends the connection", async () => {
  const { connection } = connect("extra-reply");
  const first = await connection.request(INFO);
  assert.equal(first.type === "info_response" && first.user, "first");
  // The second reply was written before the helper waits for the end of its
  // input, so it has arrived by the time the helper exits.
  await connection.close();
  await assert.rejects(
    connection.request(INFO),
    /^HostError: protocol error: unexpected info_response: no request is waiting for it$/,
  );
});

test("a helper silent for longer than the timeout fails the request and is killed", async () => {
  const { connection } = connect("silent", 200);
  await assert.rejects(
    connection.request(INFO),
    /^HostError: no answer from the helper for 0.2 s$/,
  );
  await connection.close(); // returns: the helper was killed, it does not hang
});

test("keepalives restart the inactivity timer: a helper that works longer than the timeout but keeps talking succeeds", async () => {
  // Keepalives for 2 s (by the helper's clock) against a 1.5 s timeout. The
  // request is sent once the helper runs, so that a slow start of the fake
  // helper on a busy machine does not count against the timeout.
  const { connection } = connect("keepalives", 1500);
  for (let i = 0; connection.runtime === null; i++) {
    assert.ok(i < 3000, "the fake helper started");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const reply = await connection.request(INFO);
  assert.equal(reply.type === "info_response" && reply.user, "patient");
  await connection.close();
});

test("interrupt() closes the helper's input: it stops and its reply still arrives", async () => {
  let interrupt = () => undefined as void;
  const { connection, logs } = connect("interruptible", 30_000, (text) => {
    if (text === "working") interrupt();
  });
  interrupt = () => connection.interrupt();
  const reply = await connection.request(INFO);
  assert.equal(reply.type === "info_response" && reply.user, "stopped");
  assert.deepEqual(logs, ["working"]);
  await connection.close();
});
