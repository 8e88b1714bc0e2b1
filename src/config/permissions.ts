// permissions.yaml values: "<mode> [<user> <group>]". The mode is octal with 3
// or 4 digits and is read from the scalar's source text (see YamlFile.text), so
// 0640, 640 and "0640" all mean 0o640 and 1777 means 0o1777, not decimal 1777.

import type { Owner } from "../protocol/messages.ts";

export interface Permission {
  /** Permission bits including set-user-ID, set-group-ID and sticky. */
  mode: number;
  /** null: the default owner (the user the helper runs as, and its primary group). */
  user: Owner | null;
  group: Owner | null;
}

const MODE = /^[0-7]{3,4}$/;
/** User and group names as useradd(8) allows them (plus a trailing $ for machine accounts). */
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;
const ID = /^[0-9]+$/;
/** (uid_t)-1 means "unchanged" to chown(2), so it cannot be an id. */
const MAX_ID = 2 ** 32 - 2;

/** Parses a permissions.yaml value; returns an error message when it is invalid. */
export function parsePermission(text: string): Permission | string {
  const fields = text.trim().split(/\s+/);
  if (fields.length !== 1 && fields.length !== 3) {
    return `invalid permission "${text}": expected "<mode>" or "<mode> <user> <group>"`;
  }
  const [modeText = "", userText, groupText] = fields;
  if (!MODE.test(modeText)) {
    return `invalid mode "${modeText}": expected 3 or 4 octal digits, e.g. 0644 or 1777`;
  }
  const mode = parseInt(modeText, 8);
  if (userText === undefined || groupText === undefined) return { mode, user: null, group: null };
  const user = parseOwner(userText);
  if (user === undefined) return `invalid user "${userText}": expected a name or a numeric id`;
  const group = parseOwner(groupText);
  if (group === undefined) return `invalid group "${groupText}": expected a name or a numeric id`;
  return { mode, user, group };
}

function parseOwner(text: string): Owner | undefined {
  if (ID.test(text)) {
    const id = Number(text);
    return id <= MAX_ID ? id : undefined;
  }
  return NAME.test(text) ? text : undefined;
}

export { formatMode } from "../mode.ts";
