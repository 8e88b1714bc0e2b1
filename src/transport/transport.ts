import type { ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";

/** What a transport needs to know about a host (plain data, no config types). */
export interface TransportHost {
  name: string;
  connection: "ssh" | "local";
  sshUser: string | null;
  /** The Node.js executable on the managed host. */
  node: string;
  /** OpenSSH client configuration passed as -F, if any. */
  sshConfig: string | null;
  /** Run the helper through `sudo -n` (after logging in). */
  sudo: boolean;
  /** Seconds an ssh master connection stays open after the sync (ControlPersist); 0: none. */
  sshPersist: number;
  /** What runs the helper (SPEC 3.2). */
  runtime: "auto" | "host" | "bundled";
}

/** Which Node.js ran the helper, as the bootstrap reported it. */
export interface RuntimeInfo {
  kind: "host" | "bundled";
  version: string;
  /** The bundled runtime was uploaded by this connection. */
  uploaded: boolean;
}

export type HelperProcess = ChildProcessByStdio<Writable, Readable, Readable>;

/**
 * Starts the bootstrap on a host. The caller then writes the helper bundle and
 * the frames to stdin and reads frames from stdout; stderr is for humans.
 */
export interface Transport {
  readonly host: TransportHost;
  /** Work before start() that may wait (e.g. asking ssh about the configuration);
   * `describeReuse`: reuse() will be shown (-l verbose), so it should say exactly. */
  prepare(describeReuse?: boolean): Promise<void>;
  start(helperLength: number): HelperProcess;
  /** What start() did about connection reuse, for -l verbose (null: nothing to say). */
  reuse(): string | null;
  /** Puts an unexpected exit of the connection into words, or null if it says nothing. */
  explainExit(code: number | null, signal: string | null, stderr: string): string | null;
}
