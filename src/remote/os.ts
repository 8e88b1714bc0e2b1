// Which operating system the helper runs on, for the info response and for
// errors that name it (packages on a host without apt).

import { readFileSync } from "node:fs";

/** The ID of /etc/os-release ("debian"), or the platform when there is none. */
export function osName(): string {
  try {
    const match = /^ID=("?)([^"\n]*)\1$/m.exec(readFileSync("/etc/os-release", "utf8"));
    if (match?.[2]) return match[2].slice(0, 256);
  } catch {
    // no os-release: not a typical Linux distribution
  }
  return process.platform;
}
