import { test } from "node:test";
import assert from "node:assert/strict";
import { Progress } from "../../src/report/progress.ts";
import { useColor } from "../../src/report/color.ts";

/** A stand-in for process.stderr that records what is written. */
function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const stream = {
    isTTY,
    write(chunk: string): boolean {
      written.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

test("progress on a terminal: one line rewritten in place", () => {
  const { stream, written } = fakeStream(true);
  const p = new Progress(stream);
  p.update(0, 10, 0);
  p.update(3, 10, 1);
  p.update(3, 10, 1); // unchanged: nothing written
  p.line("[web1] info: hello");
  p.clear();
  p.clear();
  assert.deepEqual(written, [
    "\r\x1b[2K[0/10 hosts]",
    "\r\x1b[2K[3/10 hosts, 1 failed]",
    "\r\x1b[2K",
    "[web1] info: hello\n",
    "\r\x1b[2K[3/10 hosts, 1 failed]",
    "\r\x1b[2K",
  ]);
});

test("a rollout in batches shows the running batch", () => {
  const { stream, written } = fakeStream(true);
  const p = new Progress(stream);
  p.update(0, 10, 0, { index: 1, count: 4 });
  p.update(3, 10, 1, { index: 2, count: 4 });
  assert.deepEqual(written, [
    "\r\x1b[2K[batch 1/4: 0/10 hosts]",
    "\r\x1b[2K[batch 2/4: 3/10 hosts, 1 failed]",
  ]);
});

test("no progress output without a terminal; lines still go out", () => {
  const { stream, written } = fakeStream(false);
  const p = new Progress(stream);
  p.update(1, 2, 0);
  p.line("a");
  p.update(2, 2, 1);
  p.clear();
  assert.deepEqual(written, ["a\n"]);
});

test("useColor: always, never, auto with TTY, NO_COLOR and TERM=dumb", () => {
  const tty = { isTTY: true };
  assert.equal(useColor("always", {}, {}), true);
  assert.equal(useColor("never", tty, {}), false);
  assert.equal(useColor("auto", tty, {}), true);
  assert.equal(useColor("auto", {}, {}), false);
  assert.equal(useColor("auto", { isTTY: false }, {}), false);
  assert.equal(useColor("auto", tty, { NO_COLOR: "1" }), false);
  assert.equal(useColor("auto", tty, { NO_COLOR: "" }), true);
  assert.equal(useColor("auto", tty, { TERM: "dumb" }), false);
  assert.equal(useColor("always", tty, { NO_COLOR: "1" }), true);
});
