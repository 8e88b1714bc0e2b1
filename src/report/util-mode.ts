/** Permission bits as 4 octal digits, special bits included: 0644, 4755 (SPEC 7.2). */
export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}

/** The id of an owner that does not exist on the host yet: the protocol's UNKNOWN_ID
 * ((uid_t)-1), sent for an entry that waits for a package to create its owner. */
export const UNKNOWN_ID = 2 ** 32 - 1;
