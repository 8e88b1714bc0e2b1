// packages.yaml and services.yaml (SPEC 3.5): lists whose entries are a name
// (present; started and enabled) or, since 2026-12-07, a mapping that states
// more. One group's file must not say two things of one name: that is a
// mistake with file, line and column; between groups, SPEC 3.6 decides
// (src/assemble/states.ts).

import { isMap, type Node } from "yaml";
import {
  PACKAGE_STATES,
  SERVICE_STATES,
  type PackageEntry,
  type ServiceEntry,
} from "../protocol/messages.ts";
import { PACKAGE_NAME, PACKAGE_RULE, UNIT_NAME, UNIT_RULE } from "./names.ts";
import type { Entry, YamlFile } from "./yaml.ts";

const PACKAGE_KEYS = ["name", "state", "recommends"] as const;
const SERVICE_KEYS = ["name", "state", "enabled"] as const;

/** The entries of packages.yaml: `- nginx` or `- {name: telnet, state: absent}`. */
export function readPackages(yf: YamlFile): PackageEntry[] {
  const what = "packages.yaml";
  return readEntries(yf, what, (item) => {
    const plain = yf.text(item);
    if (plain !== undefined) {
      const name = checkName(yf, item, plain, "package", PACKAGE_NAME, PACKAGE_RULE);
      return name === undefined ? undefined : { name, state: "present", recommends: false };
    }
    const fields = mapping(yf, item, what, PACKAGE_KEYS, "a package");
    if (fields === undefined) return undefined;
    const name = fieldName(yf, fields, "package", PACKAGE_NAME, PACKAGE_RULE);
    const state = choice(yf, fields.state, `the state of a package`, PACKAGE_STATES) ?? "present";
    const recommends =
      fields.recommends === undefined ? false : yf.bool(fields.recommends.value, "recommends");
    if (name === undefined || state === undefined || recommends === undefined) return undefined;
    if (state === "absent" && recommends && fields.recommends !== undefined) {
      return yf.error(
        fields.recommends.keyNode,
        "bad-value",
        `package "${name}" is absent, so "recommends: true" means nothing; remove it`,
      );
    }
    return { name, state, recommends };
  });
}

/** The entries of services.yaml: `- nginx` or `- {name: apache2, state: stopped, enabled: false}`. */
export function readServices(yf: YamlFile): ServiceEntry[] {
  const what = "services.yaml";
  return readEntries(yf, what, (item) => {
    const plain = yf.text(item);
    if (plain !== undefined) {
      const name = checkName(yf, item, plain, "service", UNIT_NAME, UNIT_RULE);
      return name === undefined ? undefined : { name, state: "started", enabled: null };
    }
    const fields = mapping(yf, item, what, SERVICE_KEYS, "a service");
    if (fields === undefined) return undefined;
    const name = fieldName(yf, fields, "service", UNIT_NAME, UNIT_RULE);
    const state = choice(yf, fields.state, `the state of a service`, SERVICE_STATES) ?? "started";
    const enabled = fields.enabled === undefined ? null : yf.bool(fields.enabled.value, "enabled");
    if (name === undefined || state === undefined || enabled === undefined) return undefined;
    if (state === "masked" && fields.enabled !== undefined) {
      return yf.error(
        fields.enabled.keyNode,
        "bad-value",
        `service "${name}" is masked, which no enablement overrides; remove "enabled"`,
      );
    }
    // enabled: true is what started means anyway: one statement, so no conflict with "- nginx".
    return { name, state, enabled: state === "started" && enabled === true ? null : enabled };
  });
}

/** How an entry reads in messages: "present", "absent with recommends", "stopped, enabled: false". */
export function describePackage(p: PackageEntry): string {
  return p.recommends ? `${p.state} with its Recommends` : p.state;
}

export function describeService(s: ServiceEntry): string {
  return s.enabled === null ? s.state : `${s.state}, enabled: ${s.enabled}`;
}

/** The list's entries; a name stated twice the same way counts once, stated differently it is
 * an error at the second one naming the line of the first. */
function readEntries<T extends PackageEntry | ServiceEntry>(
  yf: YamlFile,
  what: string,
  entry: (item: Node | null) => T | undefined,
): T[] {
  const node = yf.root;
  if (yf.isNull(node)) return [];
  const items = yf.seq(node, what);
  if (items === undefined) return [];
  const kind = what === "packages.yaml" ? "package" : "service";
  const describe = (e: T): string => ("recommends" in e ? describePackage(e) : describeService(e));
  const seen = new Map<string, { entry: T; node: Node | null }>();
  const out: T[] = [];
  for (const item of items) {
    const e = entry(item);
    if (e === undefined) continue;
    const earlier = seen.get(e.name);
    if (earlier === undefined) {
      seen.set(e.name, { entry: e, node: item });
      out.push(e);
      continue;
    }
    if (describe(earlier.entry) === describe(e)) continue;
    const line = yf.pos(earlier.node).line;
    yf.error(
      item,
      "duplicate",
      `${kind} "${e.name}" is ${describe(e)} here but ${describe(earlier.entry)} on line ${line}; one group states one thing of each ${kind}`,
    );
  }
  return out;
}

function checkName(
  yf: YamlFile,
  node: Node | null,
  name: string,
  kind: string,
  grammar: RegExp,
  rule: string,
): string | undefined {
  if (grammar.test(name)) return name;
  return yf.error(node, "bad-name", `invalid ${kind} name ${JSON.stringify(name)}: ${rule}`);
}

type Fields<K extends string> = Partial<Record<K, Entry>>;

/** The keys of a mapping entry (unknown keys and a missing name are errors). */
function mapping<K extends string>(
  yf: YamlFile,
  item: Node | null,
  what: string,
  keys: readonly K[],
  kind: string,
): Fields<K> | undefined {
  if (!isMap(item)) {
    return yf.error(item, "wrong-type", `an item of ${what} must be a name or a mapping`);
  }
  const entries = yf.map(item, `an item of ${what}`);
  if (entries === undefined) return undefined;
  yf.checkKeys(entries, keys, `${kind} of ${what}`);
  const fields: Fields<K> = {};
  for (const e of entries) {
    if ((keys as readonly string[]).includes(e.key)) fields[e.key as K] = e;
  }
  if (!("name" in fields)) {
    return yf.error(item, "missing-key", `${kind} needs a "name"`);
  }
  return fields;
}

function fieldName<K extends string>(
  yf: YamlFile,
  fields: Fields<K | "name">,
  kind: string,
  grammar: RegExp,
  rule: string,
): string | undefined {
  const e = fields.name;
  if (e === undefined) return undefined;
  const name = yf.string(e.value, `the name of a ${kind}`);
  return name === undefined ? undefined : checkName(yf, e.value, name, kind, grammar, rule);
}

/** One of `values`; undefined for a missing key (the caller's default) and after recording an
 * error (the problem fails the load anyway). */
function choice<T extends string>(
  yf: YamlFile,
  e: Entry | undefined,
  what: string,
  values: readonly T[],
): T | undefined {
  if (e === undefined) return undefined;
  const text = yf.text(e.value);
  if (text !== undefined && (values as readonly string[]).includes(text)) return text as T;
  yf.error(
    e.value,
    text === undefined ? "wrong-type" : "bad-value",
    `${what} must be one of ${values.join(", ")}`,
  );
  return undefined;
}
