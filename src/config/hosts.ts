// hosts.yaml (SPEC 3.2).

import path from "node:path";
import type { Node } from "yaml";
import { hostNameProblem } from "./names.ts";
import { RUNTIMES } from "./types.ts";
import type { GlobalConfig, HostConfig, Runtime } from "./types.ts";
import { hasControlCharacter } from "./yaml.ts";
import type { YamlFile } from "./yaml.ts";

const KEYS = ["name", "ssh_user", "connection", "root", "node", "sudo", "runtime"] as const;

/** A user name for `ssh -l`: no whitespace or control characters, not an option. */
function validSshUser(user: string): boolean {
  return user !== "" && !user.startsWith("-") && !/\s/.test(user) && !hasControlCharacter(user);
}

/** An ssh_user value, or undefined after recording an error. */
export function sshUser(yf: YamlFile, node: Node | null, what: string): string | undefined {
  const user = yf.string(node, what);
  if (user !== undefined && !validSshUser(user)) {
    return yf.error(node, "bad-name", `invalid ssh_user "${user}"`);
  }
  return user;
}

/** A runtime value (auto, host, bundled), or undefined after recording an error. */
export function runtime(yf: YamlFile, node: Node | null, what: string): Runtime | undefined {
  const r = yf.string(node, what);
  if (r === undefined) return undefined;
  if ((RUNTIMES as readonly string[]).includes(r)) return r as Runtime;
  return yf.error(node, "bad-value", `invalid runtime "${r}" (use ${RUNTIMES.join(", ")})`);
}

/**
 * Reads hosts.yaml; `dir` is the configuration directory (for relative roots).
 * `complete` is false when a host had to be left out (its name is wrong), so
 * checks that need every host name are skipped instead of reporting noise.
 */
export function loadHosts(
  yf: YamlFile,
  dir: string,
  defaults: Pick<GlobalConfig, "ssh_user" | "sudo" | "runtime">,
): { hosts: HostConfig[]; complete: boolean } {
  const hosts: HostConfig[] = [];
  if (yf.isNull(yf.root)) return { hosts, complete: true };
  const items = yf.seq(yf.root, "hosts.yaml");
  if (items === undefined) return { hosts, complete: false };
  let complete = true;
  const seen = new Map<string, Node>();
  for (const item of items) {
    const entries = yf.map(item, "a host in hosts.yaml");
    if (entries === undefined) {
      complete = false;
      continue;
    }
    yf.checkKeys(entries, KEYS, "a host");
    const host: HostConfig = {
      name: "",
      ssh_user: defaults.ssh_user,
      connection: "ssh",
      root: "/",
      node: "node",
      sudo: defaults.sudo ?? false,
      runtime: defaults.runtime ?? "auto",
    };
    let ok = true;
    let duplicate = false;
    let nameNode: Node | null = null;
    for (const e of entries) {
      const what = `"${e.key}"`;
      switch (e.key) {
        case "name": {
          nameNode = e.value;
          const name = yf.string(e.value, "the host name");
          const problem = name === undefined ? "" : hostNameProblem(name);
          if (name === undefined || problem !== undefined) {
            if (problem) yf.error(e.value, "bad-name", problem);
            ok = false;
            break;
          }
          const earlier = seen.get(name);
          if (earlier !== undefined) {
            yf.error(
              e.value,
              "duplicate",
              `duplicate host "${name}" (first at line ${yf.pos(earlier).line})`,
            );
            duplicate = true;
          } else seen.set(name, e.value ?? e.keyNode);
          host.name = name;
          break;
        }
        case "ssh_user": {
          const user = sshUser(yf, e.value, what);
          if (user !== undefined) host.ssh_user = user;
          break;
        }
        case "sudo": {
          const sudo = yf.bool(e.value, what);
          if (sudo !== undefined) host.sudo = sudo;
          break;
        }
        case "runtime": {
          const r = runtime(yf, e.value, what);
          if (r !== undefined) host.runtime = r;
          break;
        }
        case "connection": {
          const c = yf.string(e.value, what);
          if (c === "ssh" || c === "local") host.connection = c;
          else if (c !== undefined) {
            yf.error(e.value, "bad-value", `invalid connection "${c}" (use "ssh" or "local")`);
          }
          break;
        }
        case "root": {
          const root = yf.nonEmptyString(e.value, what);
          if (root !== undefined) host.root = path.resolve(dir, root);
          break;
        }
        case "node": {
          const node = yf.nonEmptyString(e.value, what);
          if (node !== undefined) host.node = node;
          break;
        }
      }
    }
    if (nameNode === null && !entries.some((e) => e.key === "name")) {
      yf.error(item, "missing-key", `a host needs a "name"`);
      ok = false;
    }
    if (!ok) complete = false;
    else if (!duplicate) hosts.push(host);
  }
  return { hosts, complete };
}
