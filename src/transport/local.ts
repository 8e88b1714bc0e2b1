import { spawn } from "node:child_process";
import { EXIT_NODE_TOO_OLD, explainSudo, helperCommand, nodeTooOld } from "./bootstrap.ts";
import type { HelperProcess, Transport, TransportHost } from "./transport.ts";

/** `connection: local`: the helper is a child process of safcm. */
export class LocalTransport implements Transport {
  constructor(readonly host: TransportHost) {}

  start(helperLength: number): HelperProcess {
    const [program, ...args] = helperCommand(this.host, helperLength);
    return spawn(program, args, {
      stdio: ["pipe", "pipe", "pipe"],
      // Its own process group: Ctrl-C on a terminal reaches safcm only, which stops the
      // helper cleanly and still receives its report (SPEC 5.5).
      detached: true,
    });
  }

  prepare(): Promise<void> {
    return Promise.resolve();
  }

  reuse(): string | null {
    return null;
  }

  explainExit(code: number | null, _signal: string | null, stderr: string): string | null {
    const sudo = explainSudo(this.host, stderr);
    if (sudo !== null) return sudo;
    if (code === EXIT_NODE_TOO_OLD) {
      return nodeTooOld();
    }
    return null;
  }
}
