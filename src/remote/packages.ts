// Packages on the Debian family (SPEC 5.2), in three pieces (STYLE b.3):
// observe (dpkg-query, parsed by the pure parseDpkgQuery), decide
// (missingPackages), act (apt-get update, then one apt-get install).
// Dry-run runs the same code with apply=false and stops before acting.
// Packages are never removed.

import { PACKAGE_NAME } from "../protocol/names.ts";
import type { PackageChange } from "../protocol/messages.ts";
import { findExecutable, runProgram, type ShellResult } from "./commands.ts";
import { quote, silent, type Log } from "./log.ts";
import { osName } from "./os.ts";

export { PACKAGE_NAME };

/** `Package<TAB>Architecture<TAB>db:Status-Abbrev`, one line per package instance. */
export const DPKG_QUERY_FORMAT = "${Package}\\t${Architecture}\\t${db:Status-Abbrev}\\n";

/** How much of apt's output (its end, where the errors are) an error message keeps. */
export const MAX_APT_OUTPUT = 8 * 1024;

/**
 * The installed packages in the output of
 * `dpkg-query -W -f='${Package}\t${Architecture}\t${db:Status-Abbrev}\n'`:
 * each as "name" and as "name:arch". db:Status-Abbrev is three characters,
 * desired action, status and error flag ("ii ", "rc ", "hi ", "iU "); a
 * package counts as installed when its status is "i" (installed), so a
 * package with only its configuration files left ("rc") or half-installed
 * ones are missing. Throws on a line that does not have this shape.
 */
export function parseDpkgQuery(output: string): Set<string> {
  const installed = new Set<string>();
  for (const line of output.split("\n")) {
    if (line === "") continue;
    const fields = line.split("\t");
    if (
      fields.length !== 3 ||
      fields[0] === "" ||
      !/^[a-zA-Z][a-zA-Z][ a-zA-Z]?$/.test(fields[2])
    ) {
      throw new Error(`unexpected line in the output of dpkg-query: ${quote(line.slice(0, 200))}`);
    }
    const [name, arch, status] = fields;
    if (status[1] !== "i") continue;
    installed.add(name);
    installed.add(`${name}:${arch}`);
  }
  return installed;
}

/**
 * The wanted packages that are not installed, in the order given. A name
 * without ":arch" is satisfied by the package installed for any architecture.
 */
export function missingPackages(
  wanted: readonly string[],
  installed: ReadonlySet<string>,
): string[] {
  return wanted.filter((name) => !installed.has(name));
}

export interface PackagesInput {
  /** The sync request's root; packages need "/". */
  root: string;
  packages: string[];
  /** False for dry-run: observe and decide only. */
  apply: boolean;
  log?: Log;
  /** The PATH searched for dpkg-query and apt-get (default: the helper's). */
  path?: string;
}

export interface PackagesResult {
  /** What was (or in dry-run would be) installed; on an error, what was being installed. */
  changes: PackageChange[];
  error: string | null;
}

// Environment of apt-get: no questions (debconf takes the defaults) and no
// apt-listchanges pager or mail waiting for a reader.
const APT_ENV = { DEBIAN_FRONTEND: "noninteractive", APT_LISTCHANGES_FRONTEND: "none" };

// dpkg keeps an existing configuration file that differs from the package's
// (confold), and takes the package's default where there is one (confdef),
// so files synced by safcm are never replaced by an install. The lock
// timeout waits for a running apt or unattended-upgrades instead of failing
// at once (older apt ignores the unknown option).
const APT_INSTALL = [
  "install",
  "-y",
  "--no-install-recommends",
  "-o",
  "Dpkg::Options::=--force-confold",
  "-o",
  "Dpkg::Options::=--force-confdef",
  "-o",
  "DPkg::Lock::Timeout=120",
];

/**
 * Makes sure every listed package is installed (SPEC 5.2). With something
 * missing, `apt-get update` runs first, so an install works on a host whose
 * package lists are stale or empty, then one `apt-get install` of everything
 * missing. Afterwards dpkg-query must show every package installed.
 */
export async function syncPackages(input: PackagesInput): Promise<PackagesResult> {
  const log = input.log ?? silent;
  const result: PackagesResult = { changes: [], error: null };
  if (input.packages.length === 0) return result;
  const fail = (error: string): PackagesResult => ({ ...result, error });

  const invalid = input.packages.find((name) => !PACKAGE_NAME.test(name));
  if (invalid !== undefined) return fail(invalidPackage(invalid));
  if (input.root !== "/") return fail(packagesNeedRoot(input.root));
  const dpkgQuery = findExecutable("dpkg-query", input.path);
  const aptGet = findExecutable("apt-get", input.path);
  if (dpkgQuery === null || aptGet === null) return fail(noApt(osName()));

  // observe, decide
  const before = await queryInstalled(dpkgQuery, input.packages);
  if (typeof before === "string") return fail(before);
  const missing = missingPackages(input.packages, before);
  if (missing.length === 0) {
    log("debug", `packages: all ${input.packages.length} installed`);
    return result;
  }
  result.changes = missing.map((name) => ({ name }));
  const names = missing.map(quote).join(", ");
  if (!input.apply) {
    log("verbose", `packages: would install ${names}`);
    return result;
  }

  // act
  log("verbose", "packages: running apt-get update");
  const update = await runProgram(aptGet, ["update"], { combined: true, env: APT_ENV });
  if (update.exitCode !== 0) return fail(aptFailed("apt-get update", update));
  log("verbose", `packages: installing ${names}`);
  const install = await runProgram(aptGet, [...APT_INSTALL, "--", ...missing], {
    combined: true,
    env: APT_ENV,
  });
  log("debug", `apt-get install exited with status ${install.exitCode}:\n${install.stdout}`);
  if (install.exitCode !== 0) return fail(aptFailed(`installing ${names}`, install));

  const after = await queryInstalled(dpkgQuery, missing);
  if (typeof after === "string") return fail(after);
  const still = missingPackages(missing, after);
  if (still.length > 0) return fail(stillMissing(still));
  return result;
}

/** The installed instances among `names`, or an error message. */
async function queryInstalled(dpkgQuery: string, names: string[]): Promise<Set<string> | string> {
  const run = await runProgram(dpkgQuery, ["-W", `-f=${DPKG_QUERY_FORMAT}`, "--", ...names], {
    combined: false,
  });
  // dpkg-query's exit status 1 only says that some names are unknown to
  // dpkg (not installed, never were); 2 and above are real errors.
  if (run.exitCode !== 0 && run.exitCode !== 1) {
    return `dpkg-query failed with exit status ${run.exitCode}:\n${tail(run.stderr + run.stdout)}`;
  }
  try {
    return parseDpkgQuery(run.stdout);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The end of apt's output, where its errors are. */
function tail(output: string): string {
  const text = output.trimEnd();
  if (text.length <= MAX_APT_OUTPUT) return text;
  const cut = text.indexOf("\n", text.length - MAX_APT_OUTPUT);
  return "[...]\n" + text.slice(cut < 0 ? text.length - MAX_APT_OUTPUT : cut + 1);
}

// Fires when packages.yaml slipped past the local check (the request is
// checked again here because the names become arguments).
function invalidPackage(name: string): string {
  return `invalid package name ${quote(name)}: a Debian package name is lower case letters, digits, "+", "-" and ".", optionally with ":<arch>"`;
}

// Fires for a host with a root other than "/" (chroots, images, tests): apt
// would install into the host itself, not into the root.
export function packagesNeedRoot(root: string): string {
  return `packages need root "/", but this host's root is ${quote(root)}; remove packages.yaml from its groups or install them inside the root with a command`;
}

// Fires on a host without dpkg-query or apt-get in the helper's PATH.
function noApt(os: string): string {
  return `packages need apt and dpkg (Debian family), which this host (OS ${quote(os)}) does not have`;
}

// Fires when apt-get update or install exits non-zero (unknown package,
// broken repository, dpkg lock held, a maintainer script failing).
function aptFailed(what: string, run: ShellResult): string {
  const output = tail(run.stdout + run.stderr);
  return `${what} failed: apt-get exited with status ${run.exitCode}:\n${output}`;
}

// Fires when apt-get install succeeded but a package is still not installed
// (e.g. a name apt resolved to a different package).
function stillMissing(names: string[]): string {
  return `apt-get install succeeded, but ${names.map(quote).join(", ")} is still not installed`;
}
