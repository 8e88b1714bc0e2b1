import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeFrame, FrameDecoder, FrameError } from "../../src/protocol/frame.ts";

test("frames round-trip header and binary attachment, whatever the chunking", () => {
  const attachment = Buffer.from([0, 1, 2, 255, 10, 13]);
  const bytes = Buffer.concat([
    ...encodeFrame({ type: "a", n: 1 }, attachment),
    ...encodeFrame({ type: "b" }),
    ...encodeFrame({ type: "c" }, [Buffer.from("xy"), Buffer.from("z")]),
  ]);
  for (const size of [1, 2, 3, 7, bytes.length]) {
    const decoder = new FrameDecoder(1024);
    const frames = [];
    for (let i = 0; i < bytes.length; i += size)
      frames.push(...decoder.push(bytes.subarray(i, i + size)));
    assert.deepEqual(
      frames.map((f) => [f.header, [...f.attachment]]),
      [
        [{ type: "a", n: 1 }, [...attachment]],
        [{ type: "b" }, []],
        [{ type: "c" }, [...Buffer.from("xyz")]],
      ],
    );
    assert.equal(decoder.pending, 0);
  }
});

test("a frame announcing more than the limit is rejected from its length prefix alone", () => {
  const decoder = new FrameDecoder(1000);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(0xffffffff);
  assert.throws(() => decoder.push(prefix), FrameError);
});

test("a header length beyond the frame, a too short frame and invalid JSON are errors", () => {
  const bad = Buffer.alloc(12);
  bad.writeUInt32BE(8, 0);
  bad.writeUInt32BE(100, 4);
  assert.throws(() => new FrameDecoder(1000).push(bad), /does not fit/);
  const short = Buffer.alloc(4);
  short.writeUInt32BE(2);
  assert.throws(() => new FrameDecoder(1000).push(short), /too short/);
  const json = Buffer.from("{nope");
  const frame = Buffer.alloc(8);
  frame.writeUInt32BE(4 + json.length, 0);
  frame.writeUInt32BE(json.length, 4);
  assert.throws(() => new FrameDecoder(1000).push(Buffer.concat([frame, json])), /not valid JSON/);
});
