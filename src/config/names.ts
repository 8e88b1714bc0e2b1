// Name rules for hosts and groups (SPEC 3.2, 3.3, 3.4).

export const ALL = "all";
export const DETECTED_PREFIX = "detected_";
export const REMOVE_SUFFIX = "_remove";

const HOST_NAME = /^[a-z0-9._-]+$/;
const GROUP_NAME = /^[a-z0-9_-]+$/;

/** Why `name` cannot be a host name, or undefined when it can. */
export function hostNameProblem(name: string): string | undefined {
  if (!HOST_NAME.test(name)) {
    return `invalid host name "${name}": only a-z, 0-9, ".", "-" and "_" are allowed`;
  }
  if (name.startsWith("-")) return `invalid host name "${name}": must not start with "-"`;
  // A directory named ".x" would be ignored as hidden, so its configuration would be lost.
  if (name.startsWith(".")) return `invalid host name "${name}": must not start with "."`;
  if (name === ALL) return `invalid host name "all": "all" is the group of every host`;
  if (name.startsWith(DETECTED_PREFIX)) {
    return `invalid host name "${name}": names starting with "${DETECTED_PREFIX}" are detected groups`;
  }
  return undefined;
}

/** Why `name` cannot be a groups.yaml group, or undefined when it can. */
export function groupNameProblem(name: string): string | undefined {
  if (!GROUP_NAME.test(name)) {
    return `invalid group name "${name}": only a-z, 0-9, "-" and "_" are allowed`;
  }
  if (name === ALL) return `invalid group name "all": "all" is predefined and holds every host`;
  if (name.startsWith(DETECTED_PREFIX)) {
    return `invalid group name "${name}": names starting with "${DETECTED_PREFIX}" are reserved for detected groups`;
  }
  return undefined;
}

/** detected_<x> with x made of [a-z0-9_-]. */
export function isDetectedGroup(name: string): boolean {
  return (
    name.startsWith(DETECTED_PREFIX) &&
    name.length > DETECTED_PREFIX.length &&
    GROUP_NAME.test(name)
  );
}

/** Package and unit names: the grammar both sides check (src/protocol/command-names.ts). */
export { PACKAGE_NAME, UNIT_NAME } from "../protocol/command-names.ts";
export const PACKAGE_RULE =
  'a Debian package name is lower case letters, digits, "+", "-" and ".", at least 2 characters, starting with a letter or digit, optionally followed by ":<arch>"';

export const UNIT_RULE =
  'a systemd unit name is letters, digits, ":", "-", "_", ".", "\\" and "@", not starting with "-", at most 255 characters';
