// detect_vars output (SPEC 3.4): `name=value` lines add facts.<name>; what the host printed is
// untrusted, so a malformed line, a name given twice and a built-in fact's name are errors that
// show the line (the report escapes it).

import assert from "node:assert/strict";
import { test } from "node:test";
import { BUILT_IN_FACTS } from "../../src/assemble/context.ts";
import { HostError } from "../../src/errors.ts";
import type { DetectResult } from "../../src/protocol/messages.ts";
import { detectedVars } from "../../src/session/replies.ts";

const ok = (command: string, output: string): DetectResult => ({
  command,
  exit_code: 0,
  output,
  stderr: "",
});

function vars(...results: DetectResult[]): Record<string, string> {
  const commands = results.map((r) => r.command);
  return Object.fromEntries(detectedVars(commands, results, BUILT_IN_FACTS));
}

function error(...results: DetectResult[]): string {
  try {
    vars(...results);
  } catch (err) {
    assert.ok(err instanceof HostError, String(err));
    return err.message;
  }
  assert.fail("expected a HostError");
}

test("name=value lines of every command; blank lines skipped; the value is the rest of the line", () => {
  assert.deepEqual(
    vars(
      ok("a", "php_version=8.2\n\n  rack=r1 \nempty=\n"),
      ok("b", "url=http://x/?a=b\r\n_x9=  spaced value  \n"),
    ),
    { php_version: "8.2", rack: "r1", empty: "", url: "http://x/?a=b", _x9: "  spaced value" },
  );
  assert.deepEqual(vars(), {});
});

test("a malformed line is an error showing the line", () => {
  for (const line of [
    "no equals sign",
    "Upper=1",
    "9lives=1",
    "=value",
    "a-b=1",
    "a b=1",
    "rack = 1",
  ]) {
    assert.equal(
      error(ok("cmd", `fine=1\n${line}\n`)),
      `detect_vars command "cmd" printed a line that is not name=value (a name of a-z, 0-9 and _, not starting with a digit): "${line}"`,
    );
  }
  // Only the start of a long line is shown.
  assert.match(error(ok("cmd", "x".repeat(5000))), /: "x{200}\.\.\."$/);
  // The line keeps its control characters here: the human report escapes the whole error.
  assert.ok(error(ok("cmd", "bad\x1b[31m\n")).endsWith('"bad\x1b[31m"'));
});

test("a name given twice, by one command or by two, is an error", () => {
  assert.equal(
    error(ok("a", "v=1\nv=2\n")),
    'detect_vars command "a" printed the fact "v" a second time: "v=2"',
  );
  assert.equal(
    error(ok("a", "v=1\n"), ok("b", "v=1\n")),
    'detect_vars command "b" printed the fact "v" a second time: "v=1"',
  );
});

test("a built-in fact's name is an error", () => {
  assert.equal(
    error(ok("a", "os_id=alpine\n")),
    'detect_vars command "a" printed the built-in fact "os_id": "os_id=alpine"',
  );
});

test("a failing command is an error with its output; results for other commands are a protocol error", () => {
  assert.equal(
    error({ command: "php -v", exit_code: 127, output: "", stderr: "php: not found\n" }),
    'detect_vars command "php -v" failed with exit status 127: php: not found',
  );
  assert.throws(
    () => detectedVars(["a"], [ok("b", "")], BUILT_IN_FACTS),
    /protocol error: detect_vars results do not match the commands sent/,
  );
});
