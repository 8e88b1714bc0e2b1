// The built-in facts of the host (SPEC 3.4), read in the info round trip: a few system calls
// and one small file, so that they cost the info request next to nothing (no process is
// started for them).

import { readFileSync } from "node:fs";
import os from "node:os";
import type { Facts } from "../protocol/messages.ts";

/**
 * The fields of an os-release file (os-release(5): `KEY=value` lines, the value optionally in
 * single or double quotes; in double quotes `\"`, `\\`, `` \` `` and `\$` stand for the
 * character). Comments, blank and malformed lines are skipped.
 */
export function parseOsRelease(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match === null) continue;
    let value = match[2];
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\(["\\`$])/g, "$1");
    }
    fields.set(match[1], value);
  }
  return fields;
}

/** /etc/os-release, or /usr/lib/os-release where it is missing (os-release(5)); "" if neither. */
function osRelease(): string {
  for (const file of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      return readFileSync(file, "utf8");
    } catch {
      // the next one, then none
    }
  }
  return "";
}

/** The addresses of `family`, loopback excluded, in interface order, each once. */
function addresses(family: 4 | 6): string[] {
  const found = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      // Node.js 18.0 to 18.3 gave the family as a number.
      const f = a.family as string | number;
      if (!a.internal && (f === `IPv${family}` || f === family)) found.add(a.address);
    }
  }
  return [...found];
}

export function readFacts(): Facts {
  const release = parseOsRelease(osRelease());
  const field = (key: string) => release.get(key) ?? "";
  return {
    hostname: os.hostname(),
    os: process.platform,
    arch: process.arch,
    kernel: os.release(),
    os_id: field("ID"),
    os_version_id: field("VERSION_ID"),
    os_codename: field("VERSION_CODENAME"),
    os_like: field("ID_LIKE"),
    ipv4: addresses(4),
    ipv6: addresses(6),
    // availableParallelism (Node.js >= 18.14) counts what nproc counts; cpus() reads more.
    cpus:
      typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length,
    memory_mib: Math.floor(os.totalmem() / 1024 / 1024),
  };
}
