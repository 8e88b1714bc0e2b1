// Interruption of the helper (SPEC 5.5). When the local side goes away or the
// helper is told to stop (SIGTERM, SIGINT, SIGHUP, its standard input closed),
// the helper stops before its next change: the file engine and the steps after
// it ask stopRequested() between actions and end with StopError, which removes
// temporary files on the way out like any other error.

let stopping = false;
const listeners = new Set<() => void>();

export function requestStop(): void {
  if (stopping) return;
  stopping = true;
  for (const listener of [...listeners]) listener();
}

/** Calls `listener` once when a stop is requested (at once if it already was); returns a
 * function that removes it. How a running command learns that it must be ended. */
export function onStop(listener: () => void): () => void {
  if (stopping) {
    listener();
    return () => undefined;
  }
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function stopRequested(): boolean {
  return stopping;
}

export class StopError extends Error {
  constructor() {
    super("interrupted: stopped before the next change");
    this.name = "StopError";
  }
}

/** Throws StopError when a stop was requested; call it before every change. */
export function checkStop(): void {
  if (stopping) throw new StopError();
}
