// The helper's logging: a function the frame loop turns into `log` messages.
// Passed explicitly (no global logger), so tests can collect the lines.

import { MAX_LOG_TEXT, type LogLevel } from "../protocol/messages.ts";

export type Log = (level: LogLevel, text: string) => void;

/** A Log that drops everything (tests, callers that do not care). */
export const silent: Log = () => {};

/** Cuts text to what a log message may carry (the local side rejects longer ones). */
export function clip(text: string, max = MAX_LOG_TEXT): string {
  return text.length <= max ? text : text.slice(0, max - 20) + " [...truncated]";
}

/** Quotes a path (or command) the way every message of the helper does. */
export function quote(text: string): string {
  return JSON.stringify(text);
}
