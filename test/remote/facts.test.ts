// The built-in facts (SPEC 3.4), read by the helper in the info round trip: the os-release
// parser on recorded files, then the real helper bundle answering an info request on this
// machine (every frame validated as the local side does).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { test } from "node:test";
import { encodeFrame } from "../../src/protocol/frame.ts";
import { PROTOCOL_VERSION, type Facts } from "../../src/protocol/messages.ts";
import { parseOsRelease } from "../../src/remote/facts.ts";
import { talkToHelper } from "./util.ts";

test("os-release: plain, double- and single-quoted values; escapes; comments and junk skipped", () => {
  const debian = parseOsRelease(
    [
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
      'NAME="Debian GNU/Linux"',
      'VERSION_ID="12"',
      "VERSION_CODENAME=bookworm",
      "ID=debian",
      "# a comment",
      "",
      "not a field",
      'HOME_URL="https://www.debian.org/"',
    ].join("\n"),
  );
  assert.equal(debian.get("ID"), "debian");
  assert.equal(debian.get("VERSION_ID"), "12");
  assert.equal(debian.get("VERSION_CODENAME"), "bookworm");
  assert.equal(debian.get("ID_LIKE"), undefined);
  const ubuntu = parseOsRelease(
    'ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\'22.04\'\nNAME="say \\"hi\\" \\$HOME \\\\ \\`x\\`"\r\n',
  );
  assert.equal(ubuntu.get("ID_LIKE"), "debian");
  assert.equal(ubuntu.get("VERSION_ID"), "22.04");
  assert.equal(ubuntu.get("NAME"), 'say "hi" $HOME \\ `x`');
  assert.equal(parseOsRelease('ID="unterminated').get("ID"), '"unterminated');
});

test("the helper reports this machine's facts and the detect_vars output in the info response", async () => {
  const talk = await talkToHelper(
    encodeFrame({
      type: "info_request",
      version: PROTOCOL_VERSION,
      detect_groups: ["echo linux"],
      detect_vars: ["echo php_version=8.2; echo noise >&2", "exit 3"],
      log_level: "info",
    }),
    { replies: 1 },
  );
  assert.equal(talk.exitCode, 0, talk.stderr);
  const info = talk.frames.at(-1)?.header;
  assert.equal(info?.type, "info_response");
  assert.deepEqual(info.detect_vars, [
    {
      command: "echo php_version=8.2; echo noise >&2",
      exit_code: 0,
      output: "php_version=8.2\n",
      stderr: "noise\n",
    },
    { command: "exit 3", exit_code: 3, output: "", stderr: "" },
  ]);
  const facts = info.facts as Facts;
  const release = readFileSync("/etc/os-release", "utf8");
  const field = (key: string) =>
    new RegExp(`^${key}=(.*)$`, "m").exec(release)?.[1]?.replace(/^"(.*)"$/, "$1") ?? "";
  assert.equal(facts.hostname, os.hostname());
  assert.equal(facts.os, "linux");
  assert.equal(facts.arch, process.arch);
  assert.equal(facts.kernel, execFileSync("uname", ["-r"], { encoding: "utf8" }).trim());
  assert.equal(facts.os_id, field("ID"));
  assert.equal(facts.os_version_id, field("VERSION_ID"));
  assert.equal(facts.os_codename, field("VERSION_CODENAME"));
  assert.equal(facts.os_like, field("ID_LIKE"));
  assert.equal(facts.cpus, Number(execFileSync("nproc", { encoding: "utf8" })));
  assert.equal(facts.memory_mib, Math.floor(os.totalmem() / 1024 / 1024));
  assert.ok(!facts.ipv4.includes("127.0.0.1") && !facts.ipv6.includes("::1"), "no loopback");
  const all = Object.values(os.networkInterfaces()).flatMap((l) => l ?? []);
  const expected = (family: string) => [
    ...new Set(all.filter((a) => !a.internal && a.family === family).map((a) => a.address)),
  ];
  assert.deepEqual(facts.ipv4, expected("IPv4"));
  assert.deepEqual(facts.ipv6, expected("IPv6"));
});
