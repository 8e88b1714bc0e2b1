export { formatMode } from "../mode.ts";

/** The id of an owner that does not exist on the host yet: the protocol's UNKNOWN_ID
 * ((uid_t)-1), sent for an entry that waits for a package to create its owner. */
export const UNKNOWN_ID = 2 ** 32 - 1;
