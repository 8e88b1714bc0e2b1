// Building one host of a configuration written as a tree, for the tests of src/assemble.

import assert from "node:assert/strict";
import { buildHost } from "../../src/assemble/host-config.ts";
import type { BuiltHost, HostFacts } from "../../src/assemble/host-config.ts";
import { loadConfig } from "../../src/config/load.ts";
import { HostError } from "../../src/errors.ts";
import { configDir, type Tree } from "../helpers/tree.ts";

/** A host without detected groups whose helper runs as uid 1000, gid 100. */
export const facts: HostFacts = { detected: [], uid: 1000, gid: 100 };

/** Builds host `host` (default h1) of the configuration `tree`. */
export function build(tree: Tree, host = "h1", f: HostFacts = facts): BuiltHost {
  const config = loadConfig(configDir(tree));
  const h = config.hosts.find((x) => x.name === host);
  assert.ok(h, `no host ${host}`);
  return buildHost(config, h, f);
}

/** The HostError of building `tree`'s h1 (a user error; the session reports it in stage "build"). */
export function buildError(tree: Tree, f: HostFacts = facts): HostError {
  try {
    build(tree, "h1", f);
  } catch (err) {
    assert.ok(err instanceof HostError, String(err));
    return err;
  }
  assert.fail("expected a HostError");
}
