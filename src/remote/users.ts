// The host's user database. Node.js has no getpwnam(), so /etc/passwd and
// /etc/group are parsed directly (the usual files; NSS sources such as LDAP
// are not consulted).

import { readFileSync } from "node:fs";
import type { InfoResponse, Owner } from "../protocol/messages.ts";

export interface UserDb {
  users: IdMap;
  groups: IdMap;
}

/** Names and ids of one database; the first entry wins, as with getpwnam(). */
export interface IdMap {
  byName: Map<string, number>;
  byId: Map<number, string>;
}

/** A resolved owner: its id and (when the database has one) its name. */
export interface ResolvedOwner {
  id: number;
  name: string | null;
}

/**
 * Parses the text of /etc/passwd or /etc/group: `name:password:id:...`.
 * Comments, blank lines, NIS "+"/"-" lines and malformed lines are skipped.
 */
export function parseIdFile(text: string): IdMap {
  const map: IdMap = { byName: new Map(), byId: new Map() };
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    const name = fields[0] ?? "";
    const idText = fields[2] ?? "";
    if (fields.length < 3 || name === "" || name.startsWith("#") || /^[+-]/.test(name)) continue;
    if (!/^\d+$/.test(idText)) continue;
    const id = Number(idText);
    if (!map.byName.has(name)) map.byName.set(name, id);
    if (!map.byId.has(id)) map.byId.set(id, name);
  }
  return map;
}

function readOptional(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Reads the host's databases (a missing file counts as empty). */
export function loadUserDb(passwd = "/etc/passwd", group = "/etc/group"): UserDb {
  return { users: parseIdFile(readOptional(passwd)), groups: parseIdFile(readOptional(group)) };
}

export class UnknownOwnerError extends Error {
  override name = "UnknownOwnerError";
  constructor(
    message: string,
    /** The name that does not exist. */
    readonly owner: string,
  ) {
    super(message);
  }
}

/** A number is an id (its name looked up), a string a name that must exist. */
export function resolveOwner(map: IdMap, owner: Owner, kind: "user" | "group"): ResolvedOwner {
  if (typeof owner === "number") return { id: owner, name: map.byId.get(owner) ?? null };
  const id = map.byName.get(owner);
  if (id === undefined)
    throw new UnknownOwnerError(`unknown ${kind} ${JSON.stringify(owner)}`, owner);
  return { id, name: owner };
}

/** The uid/gid the helper runs as, with their names. */
export function processOwner(db: UserDb): Pick<InfoResponse, "uid" | "gid" | "user" | "group"> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  return { uid, gid, user: db.users.byId.get(uid) ?? null, group: db.groups.byId.get(gid) ?? null };
}
