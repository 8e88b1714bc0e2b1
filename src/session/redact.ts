// Secrets never leave for the terminal or the JSON report (SPEC 3.5): every
// text of a host's result that may hold one (error messages, which quote
// remote output and detect output, and command and trigger output) passes
// through the run's redactor (config/secrets.ts) once, where the result is
// assembled. Log lines are redacted as they arrive (session/host.ts). Diffs
// of files holding a secret are withheld by the report (BuiltHost.secrets).

import type { HostResult } from "./result.ts";

export function redactResult(result: HostResult, redact: (text: string) => string): void {
  if (result.error !== null) result.error = redact(result.error);
  result.commands = result.commands.map((c) => ({
    ...c,
    command: redact(c.command),
    output: c.output === null ? null : redact(c.output),
  }));
}
