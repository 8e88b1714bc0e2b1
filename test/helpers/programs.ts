// Programs the tests run (sshd, sudo, setfacl, dpkg-deb ...). Where one is
// missing, the test fails with one line naming the Debian package that
// provides it (SPEC 9), never with a stack trace and a row of cancelled tests.
// ./scripts/setup.sh installs them all.

import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The full path of `program` found in PATH, or null. */
export function findProgram(program: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, program);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

function missingLine(program: string, pkg: string): string {
  return `this test needs ${program}, which is not in PATH: install the package ${pkg} (./scripts/setup.sh installs everything the tests need)`;
}

/**
 * The path of `program`; where it is missing, fails the calling test (or
 * hook) with one line naming `pkg`.
 */
export function requireProgram(program: string, pkg: string): string {
  const path = findProgram(program);
  if (path !== null) return path;
  const err = new Error(missingLine(program, pkg));
  err.stack = err.message; // one line: the test runner prints the stack
  throw err;
}

/**
 * For a test file whose every test needs these programs (call it when the
 * file is loaded): where one is missing, the file ends with one line naming
 * the package, before any test starts.
 */
export function requireProgramsForFile(programs: Record<string, string>): void {
  for (const [program, pkg] of Object.entries(programs)) {
    if (findProgram(program) !== null) continue;
    process.stderr.write(`${missingLine(program, pkg)}\n`);
    process.exit(1);
  }
}
