// The frame loop, run as a separate process the way the bootstrap runs it: the
// bundle (dist/remote.js) loaded by the real bootstrap.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FrameDecoder, MAX_FRAME_FROM_HELPER, encodeFrame } from "../../src/protocol/frame.ts";
import { KEEPALIVE_INTERVAL, PROTOCOL_VERSION } from "../../src/protocol/messages.ts";
import { alive } from "../helpers/proc.ts";
import { request, removeDir, startHelper, talkToHelper, tempDir } from "../remote/util.ts";

interface Exchange {
  messages: Array<Record<string, unknown>>;
  attachments: Buffer[];
  exitCode: number | null;
  stderr: string;
}

/** Starts the helper (with `then`, see startHelper), writes `input` and collects every frame
 * it sends; standard input is closed at once or after `replies` replies (talkToHelper). */
async function exchange(input: Buffer[], then?: string, replies = 0): Promise<Exchange> {
  const talk = await talkToHelper(input, { then, replies });
  assert.equal(talk.pending, 0, "nothing but complete frames on standard output");
  return {
    messages: talk.frames.map((f) => f.header),
    attachments: talk.frames.map((f) => f.attachment),
    exitCode: talk.exitCode,
    stderr: talk.stderr,
  };
}

/** A real sync request that only runs `commands` in `root`. */
function commandsRequest(root: string, commands: string[]): Buffer[] {
  return encodeFrame({
    type: "sync_request",
    log_level: "debug2",
    dry_run: false,
    root,
    files: [],
    packages: [],
    services: [],
    triggers: [],
    commands: commands.map((run) => ({ run })),
  });
}

function last(ex: Exchange): Record<string, unknown> {
  return ex.messages[ex.messages.length - 1];
}

describe("helper main loop", () => {
  test("answers an info request and exits 0 when standard input ends", async () => {
    const ex = await exchange(
      encodeFrame({
        type: "info_request",
        log_level: "debug2",
        version: PROTOCOL_VERSION,
        detect_groups: ["echo Linux; echo noise >&2", "exit 4"],
      }),
      'console.log("stray output");',
      1,
    );
    assert.equal(ex.exitCode, 0, ex.stderr);
    assert.match(ex.stderr, /stray output/, "console.log goes to standard error");
    const info = last(ex);
    assert.equal(info.type, "info_response");
    assert.equal(info.version, PROTOCOL_VERSION);
    assert.equal(info.uid, 0);
    assert.equal(info.user, "root");
    assert.equal(info.arch, process.arch);
    assert.equal(info.node_version, process.versions.node);
    assert.equal(
      info.os,
      /^ID=(.*)$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1]?.replace(/"/g, ""),
    );
    assert.deepEqual(info.detect_groups, [
      { command: "echo Linux; echo noise >&2", exit_code: 0, output: "Linux\n", stderr: "noise\n" },
      { command: "exit 4", exit_code: 4, output: "", stderr: "" },
    ]);
    assert.ok(ex.messages.some((m) => m.type === "log"));
  });

  test("applies a sync request and sends old content in the attachment", async () => {
    const root = realpathSync(tempDir());
    try {
      const first = request([{ path: "/motd", content: "one\n" }]);
      const second = request([{ path: "/motd", content: "two\n" }]);
      const sync = (req: typeof first, dry_run: boolean) =>
        encodeFrame(
          {
            type: "sync_request",
            log_level: "debug2",
            dry_run,
            root,
            files: req.files,
            packages: [],
            services: [],
            triggers: [{ path: "/motd", commands: ["cat motd > copy"] }],
            commands: [],
          },
          req.data,
        );
      const ex = await exchange([...sync(first, false), ...sync(second, true)], undefined, 2);
      assert.equal(ex.exitCode, 0, ex.stderr);
      const responses = ex.messages.flatMap((m, i) =>
        m.type === "sync_response" ? [{ m, a: ex.attachments[i] }] : [],
      );
      assert.equal(responses.length, 2);
      assert.equal(responses[0].m.error, null);
      assert.equal(
        readFileSync(join(root, "copy"), "utf8"),
        "one\n",
        "the trigger ran in the root",
      );
      const dry = responses[1];
      const [change] = dry.m.files as Array<{ old_data_offset: number; old_data_length: number }>;
      assert.equal(
        dry.a
          .subarray(change.old_data_offset, change.old_data_offset + change.old_data_length)
          .toString(),
        "one\n",
      );
      assert.deepEqual(dry.m.commands, [
        { command: "cat motd > copy", trigger: "/motd", exit_code: null, output: null },
      ]);
      assert.equal(readFileSync(join(root, "motd"), "utf8"), "one\n", "dry-run changed nothing");
      assert.ok(ex.messages.some((m) => m.type === "log" && m.text === '"/motd": created'));
    } finally {
      removeDir(root);
    }
  });

  test("packages and services are refused with a root other than /; nothing after them runs", async () => {
    const root = tempDir();
    try {
      const ex = await exchange(
        encodeFrame({
          type: "sync_request",
          log_level: "debug2",
          dry_run: true,
          root,
          files: [],
          packages: [{ name: "htop", state: "present", recommends: false }],
          services: [],
          triggers: [],
          commands: [{ run: "true" }],
        }),
        undefined,
        1,
      );
      assert.match(String(last(ex).error), /^packages need root "\/", but this host's root is "/);
      assert.deepEqual(last(ex).commands, []);
    } finally {
      removeDir(root);
    }
  });

  test("sends keepalives while a long command runs, and none after the reply", async () => {
    const root = tempDir();
    try {
      const ex = await exchange(
        commandsRequest(root, [`sleep ${(KEEPALIVE_INTERVAL * 1.3) / 1000}`]),
        undefined,
        1,
      );
      assert.equal(ex.exitCode, 0, ex.stderr);
      const types = ex.messages.map((m) => m.type);
      const reply = types.indexOf("sync_response");
      assert.ok(types.slice(0, reply).includes("keepalive"), types.join(" "));
      assert.equal(reply, types.length - 1, "nothing after the reply");
      assert.equal(last(ex).error, null);
    } finally {
      removeDir(root);
    }
  });

  for (const how of ["SIGTERM", "SIGINT", "SIGHUP", "standard input closed"] as const) {
    test(`stop (${how}): the running command's process group ends, no further command runs`, async () => {
      const root = realpathSync(tempDir());
      try {
        const child = startHelper();
        const decoder = new FrameDecoder(MAX_FRAME_FROM_HELPER);
        const messages: Array<Record<string, unknown>> = [];
        child.stdout.on("data", (chunk: Buffer) => {
          for (const f of decoder.push(chunk)) messages.push(f.header as Record<string, unknown>);
        });
        const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
        const command = `sleep 303 & echo $! > child.pid; echo $$ > shell.pid; wait`;
        for (const part of commandsRequest(root, [command, "echo never > never"])) {
          child.stdin.write(part);
        }
        while (!existsSync(join(root, "child.pid")) || !existsSync(join(root, "shell.pid"))) {
          await sleep(20);
        }
        if (how === "standard input closed") child.stdin.end();
        else child.kill(how);
        while (!messages.some((m) => m.type === "sync_response")) await sleep(20);
        child.stdin.end();
        assert.equal(await exited, 0);
        const reply = messages.find((m) => m.type === "sync_response");
        assert.match(String(reply?.error), /^interrupted: command .* was ended/);
        assert.equal((reply?.commands as unknown[]).length, 1);
        for (const name of ["child.pid", "shell.pid"]) {
          const pid = Number(readFileSync(join(root, name), "utf8"));
          assert.equal(alive(pid), false, `${name} still runs`);
        }
        assert.equal(existsSync(join(root, "never")), false);
      } finally {
        removeDir(root);
      }
    });
  }

  for (const [name, input, message] of [
    [
      "a wrong protocol version",
      encodeFrame({ type: "info_request", version: 999, detect_groups: [], log_level: "info" }),
      /protocol version 999/,
    ],
    [
      "an unknown message type",
      encodeFrame({ type: "hello" }),
      /invalid request: message: unknown type "hello"/,
    ],
    [
      "a malformed sync request",
      encodeFrame({ type: "sync_request", dry_run: "yes" }),
      /sync_request.dry_run: not a boolean/,
    ],
    [
      "an unknown log level",
      encodeFrame({ type: "sync_request", dry_run: true, log_level: "loud" }),
      /sync_request.log_level: not one of error, info, verbose, debug, debug2/,
    ],
    [
      "file content outside the attachment",
      encodeFrame(
        {
          type: "sync_request",
          log_level: "debug2",
          dry_run: true,
          root: "/",
          packages: [],
          services: [],
          triggers: [],
          commands: [],
          files: [
            {
              path: "/x",
              type: "file",
              mode: 420,
              user: 0,
              group: 0,
              data_offset: 0,
              data_length: 10,
            },
          ],
        },
        Buffer.from("short"),
      ),
      /data_length: not an integer in 0\.\.5/,
    ],
    ["a frame larger than the limit", [Buffer.from([0xff, 0xff, 0xff, 0xff])], /exceeds the limit/],
    [
      "input that ends inside a frame",
      [Buffer.from([0, 0, 0, 100, 0])],
      /ended in the middle of a frame/,
    ],
  ] as const) {
    test(`${name} gives an error message and exit status 1`, async () => {
      const ex = await exchange([...input]);
      assert.equal(ex.exitCode, 1);
      assert.equal(last(ex).type, "error");
      assert.match(String(last(ex).message), message);
    });
  }
});
