// Framing of the byte stream between the local side and the helper.
//
// A frame is: u32 big-endian payload length N, then N bytes of payload.
// The payload is: u32 big-endian header length H, H bytes of UTF-8 JSON (the
// message), then N - 4 - H bytes of binary attachment (file content travels
// there, so it is not inflated by base64 or JSON escaping).

/** Largest frame the helper accepts from the local side (the whole sync request). */
export const MAX_FRAME_TO_HELPER = 1024 * 1024 * 1024;
/** Largest frame the local side accepts from a (possibly hostile) helper. */
export const MAX_FRAME_FROM_HELPER = 64 * 1024 * 1024;
/** Largest JSON header in any frame, to bound JSON.parse work. */
export const MAX_HEADER = 64 * 1024 * 1024;

export interface Frame {
  /** The parsed JSON header; still untrusted, validate before use. */
  header: unknown;
  attachment: Buffer;
}

export class FrameError extends Error {
  override name = "FrameError";
}

export function encodeFrame(header: object, attachment?: Buffer | Buffer[]): Buffer[] {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const parts =
    attachment === undefined ? [] : Array.isArray(attachment) ? attachment : [attachment];
  const attachmentLength = parts.reduce((sum, p) => sum + p.length, 0);
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32BE(4 + json.length + attachmentLength, 0);
  prefix.writeUInt32BE(json.length, 4);
  return [prefix, json, ...parts];
}

/**
 * Incremental decoder: push() chunks as they arrive, get complete frames back.
 * A frame announcing more than maxFrame bytes is rejected as soon as its
 * length prefix arrives, before anything is buffered for it.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private need = -1;

  constructor(private readonly maxFrame: number) {}

  /** Bytes received that do not form a complete frame yet. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const length = this.take(4).readUInt32BE(0);
        if (length > this.maxFrame) {
          throw new FrameError(`frame of ${length} bytes exceeds the limit of ${this.maxFrame}`);
        }
        if (length < 4) throw new FrameError(`frame of ${length} bytes is too short`);
        this.need = length;
      }
      if (this.buffered < this.need) break;
      const payload = this.take(this.need);
      this.need = -1;
      frames.push(decodePayload(payload));
    }
    return frames;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}

function decodePayload(payload: Buffer): Frame {
  const headerLength = payload.readUInt32BE(0);
  if (headerLength > payload.length - 4 || headerLength > MAX_HEADER) {
    throw new FrameError(`frame header of ${headerLength} bytes does not fit the frame`);
  }
  const text = payload.subarray(4, 4 + headerLength).toString("utf8");
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    throw new FrameError("frame header is not valid JSON");
  }
  return { header, attachment: payload.subarray(4 + headerLength) };
}
