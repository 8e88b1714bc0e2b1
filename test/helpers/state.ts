// The state safcm's helper keeps on a host (SPEC 5.7) when a test syncs this
// machine as root (connection: local, or the test sshd's root login): the
// pending-trigger journal of each root in /var/lib/safcm. A journal exists
// only while a trigger is pending, so a test that ends with its triggers done
// leaves none; this removes exactly what the tests of a file may have left:
// the journals of their roots. /var/lib/safcm itself, which the helper creates,
// is removed by scripts/run-tests.js at the end of the run when it did not
// exist before (not here: another test file may be creating a journal in it).

import { rmSync } from "node:fs";
import { join } from "node:path";
import { journalName } from "../../src/remote/pending.ts";

export const STATE_DIR = "/var/lib/safcm";

/** The journal of a root on this machine, as the helper names it when it runs as root. */
export function journalOf(root: string): string {
  return join(STATE_DIR, journalName(root));
}

/** Call at the start of a test file; `cleanup` in its `after`. */
export function trackState(): { root: (root: string) => string; cleanup: () => void } {
  const roots: string[] = [];
  return {
    root: (root) => {
      roots.push(root);
      return root;
    },
    cleanup: () => {
      for (const root of roots) rmSync(journalOf(root), { force: true });
    },
  };
}
