// Helpers shared by the helper's tests: temporary trees, request building,
// leftovers and descriptors, the bundled helper started as a host starts it; the rest is the toolkit's (test/helpers/tree.ts).

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { FrameDecoder, MAX_FRAME_FROM_HELPER } from "../../src/protocol/frame.ts";
import type { FileEntry, FileType, Owner } from "../../src/protocol/messages.ts";
import { validateResponse } from "../../src/protocol/validate.ts";
import { BOOTSTRAP, helperBundle } from "../../src/transport/bootstrap.ts";
import { tempDir as makeTempDir } from "../helpers/tree.ts";

// The snapshot is the toolkit's (test/helpers/tree.ts).
export { snapshot } from "../helpers/tree.ts";

/** A private (0700) temporary directory; remove it with removeDir. */
export function tempDir(prefix = "safcm-remote-"): string {
  return makeTempDir(prefix, { mode: 0o700 }).dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface Spec {
  path: string;
  type?: FileType;
  mode?: number;
  user?: Owner;
  group?: Owner;
  target?: string;
  content?: string | Buffer;
}

/** FileEntries and their attachment; type defaults to file (with content), symlink (with target) or dir. */
export function request(specs: Spec[]): { files: FileEntry[]; data: Buffer } {
  const parts: Buffer[] = [];
  let offset = 0;
  const files = specs.map((spec): FileEntry => {
    const type: FileType =
      spec.type ??
      (spec.content !== undefined ? "file" : spec.target !== undefined ? "symlink" : "dir");
    const entry: FileEntry = {
      path: spec.path,
      type,
      mode: spec.mode ?? (type === "dir" ? 0o755 : type === "symlink" ? 0o777 : 0o644),
      user: spec.user ?? 0,
      group: spec.group ?? 0,
    };
    if (type === "symlink") entry.target = spec.target ?? "";
    if (type === "file") {
      const content = Buffer.from(spec.content ?? "");
      entry.data_offset = offset;
      entry.data_length = content.length;
      parts.push(content);
      offset += content.length;
    }
    return entry;
  });
  return { files, data: Buffer.concat(parts) };
}

/** Names in a directory that look like safcm's temporary files. */
export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.includes(".safcm-"));
}

/** Open descriptors of this process (to find leaks). */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/**
 * Starts the helper as a host runs it: the bundle built by `npm run build` (dist/remote.js),
 * loaded by the real bootstrap (`node -e BOOTSTRAP <length>`, the bundle first on standard
 * input). `prefix` runs before node (e.g. prlimit); `then` is JavaScript run once the
 * helper has started. Write the requests, then end stdin.
 */
export function startHelper(
  options: { prefix?: string[]; then?: string } = {},
): ChildProcessWithoutNullStreams {
  const bundle = helperBundle();
  const code = options.then === undefined ? BOOTSTRAP : `${BOOTSTRAP};${options.then}`;
  const argv = [...(options.prefix ?? []), process.execPath, "-e", code, String(bundle.length)];
  const child = spawn(argv[0], argv.slice(1), { stdio: "pipe" });
  child.stdin.write(bundle);
  return child;
}

/** What a helper sent until it exited: every frame (each validated as the local side does). */
export interface HelperTalk {
  frames: { header: Record<string, unknown>; attachment: Buffer }[];
  /** Bytes after the last complete frame. */
  pending: number;
  exitCode: number | null;
  stderr: string;
}

/**
 * Starts the helper (startHelper's options), writes `input` and collects what it sends.
 * Standard input is closed at once (`replies` 0), or once that many replies (info_response,
 * sync_response, error) arrived, as on the local side, which closes it early only to stop
 * the helper (SPEC 5.5).
 */
export function talkToHelper(
  input: Buffer[],
  options: { prefix?: string[]; then?: string; replies?: number } = {},
): Promise<HelperTalk> {
  const child = startHelper(options);
  const replies = options.replies ?? 0;
  const stdout: Buffer[] = [];
  let stderr = "";
  const counter = new FrameDecoder(MAX_FRAME_FROM_HELPER);
  let seen = 0;
  child.stdout.on("data", (chunk: Buffer) => {
    stdout.push(chunk);
    for (const frame of counter.push(chunk)) {
      const type = (frame.header as { type?: unknown }).type;
      if (type === "info_response" || type === "sync_response" || type === "error") seen++;
    }
    if (seen === replies) child.stdin.end();
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on("error", () => undefined); // a helper that died early: its exit status tells
  for (const part of input) child.stdin.write(part);
  if (replies === 0) child.stdin.end();
  return new Promise((resolve) => {
    child.on("close", (exitCode) => {
      const decoder = new FrameDecoder(MAX_FRAME_FROM_HELPER);
      const frames = decoder.push(Buffer.concat(stdout));
      for (const frame of frames) validateResponse(frame.header, frame.attachment.length);
      resolve({
        frames: frames.map((f) => ({
          header: f.header as Record<string, unknown>,
          attachment: f.attachment,
        })),
        pending: decoder.pending,
        exitCode,
        stderr,
      });
    });
  });
}
