// Packages on the Debian family (SPEC 5.2), in three pieces (STYLE b.3):
// observe (dpkg-query, parsed by the pure parseDpkgQuery), decide
// (decidePackages; a removal is simulated first so that it never takes other
// packages with it), act (apt-get remove; apt-get update, then apt-get
// install). Dry-run runs the same code with apply=false and stops before
// acting. The report says what dpkg shows afterwards, not what was asked.

import { PACKAGE_NAME } from "../protocol/command-names.ts";
import type { PackageChange, PackageEntry } from "../protocol/messages.ts";
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

/** What packages.yaml asks of a host, from what dpkg says is installed. */
export interface PackageDecision {
  /** Present but not installed, in the order given. */
  install: PackageEntry[];
  /** Absent but installed, in the order given. */
  remove: string[];
}

export function decidePackages(
  wanted: readonly PackageEntry[],
  installed: ReadonlySet<string>,
): PackageDecision {
  return {
    install: wanted.filter((p) => p.state === "present" && !installed.has(p.name)),
    remove: wanted.filter((p) => p.state === "absent" && installed.has(p.name)).map((p) => p.name),
  };
}

/**
 * The packages in the output of `apt-get -s remove` (a simulation): one
 * `Remv <name>[:<arch>] [<version>]` line per package apt would remove.
 */
export function parseSimulatedRemovals(output: string): string[] {
  const names: string[] = [];
  for (const line of output.split("\n")) {
    const m = /^Remv (\S+)/.exec(line);
    if (m !== null) names.push(m[1]);
  }
  return names;
}

/**
 * apt's own warnings and errors in its output: the lines starting with
 * `W:`, `E:` or `Err:` (apt-get update says "Err:1 <uri> <dist> InRelease"
 * with the reason on the indented line below, so indented lines after such
 * a line are kept with it).
 */
export function aptMessages(output: string): string[] {
  const lines: string[] = [];
  let inMessage = false;
  for (const line of output.split("\n")) {
    if (/^(W|E|Err(:\d+)?):/.test(line)) {
      lines.push(line.trimEnd());
      inMessage = true;
    } else if (inMessage && /^\s+\S/.test(line)) {
      lines.push(line.trimEnd());
    } else {
      inMessage = false;
    }
  }
  return lines;
}

export interface PackagesInput {
  /** The sync request's root; packages need "/". */
  root: string;
  packages: PackageEntry[];
  /** False for dry-run: observe and decide only. */
  apply: boolean;
  log?: Log;
  /** The PATH searched for dpkg-query and apt-get (default: the helper's). */
  path?: string;
}

export interface PackagesResult {
  /** What dpkg shows installed or removed by this sync (in dry-run: what would be). */
  changes: PackageChange[];
  error: string | null;
}

// Environment of apt-get: no questions (debconf takes the defaults) and no
// apt-listchanges pager or mail waiting for a reader.
const APT_ENV = { DEBIAN_FRONTEND: "noninteractive", APT_LISTCHANGES_FRONTEND: "none" };

// The lock timeout waits for a running apt or unattended-upgrades instead of
// failing at once (older apt ignores the unknown option).
const LOCK_TIMEOUT = ["-o", "DPkg::Lock::Timeout=120"];

// dpkg keeps an existing configuration file that differs from the package's
// (confold), and takes the package's default where there is one (confdef),
// so files synced by safcm are never replaced by an install. Recommends are
// installed only for the packages that say `recommends: true` (SPEC 3.5),
// whatever the host's apt configuration says (APT::Install-Recommends).
function aptInstall(recommends: boolean): string[] {
  return [
    "install",
    "-y",
    recommends ? "--install-recommends" : "--no-install-recommends",
    "-o",
    "Dpkg::Options::=--force-confold",
    "-o",
    "Dpkg::Options::=--force-confdef",
    ...LOCK_TIMEOUT,
  ];
}

/**
 * Brings the listed packages into their state (SPEC 5.2). Packages to remove
 * go first (`apt-get remove`, configuration files kept), after a simulation
 * has shown that apt would remove nothing else; then, with something to
 * install, `apt-get update` (its warnings reported at info level) and one
 * `apt-get install` of what is missing (a second one for the packages that
 * want their Recommends). Afterwards dpkg-query decides what is reported.
 */
export async function syncPackages(input: PackagesInput): Promise<PackagesResult> {
  const log = input.log ?? silent;
  const result: PackagesResult = { changes: [], error: null };
  if (input.packages.length === 0) return result;
  const fail = (error: string): PackagesResult => ({ ...result, error });

  const invalid = input.packages.find((p) => !PACKAGE_NAME.test(p.name));
  if (invalid !== undefined) return fail(invalidPackage(invalid.name));
  if (input.root !== "/") return fail(packagesNeedRoot(input.root));
  const dpkgQuery = findExecutable("dpkg-query", input.path);
  const aptGet = findExecutable("apt-get", input.path);
  if (dpkgQuery === null || aptGet === null) return fail(noApt(osName()));

  // observe, decide
  const names = input.packages.map((p) => p.name);
  const before = await queryInstalled(dpkgQuery, names);
  if (typeof before === "string") return fail(before);
  const { install, remove } = decidePackages(input.packages, before);
  if (install.length === 0 && remove.length === 0) {
    log("debug", `packages: all ${input.packages.length} in their state`);
    return result;
  }
  if (remove.length > 0) {
    // Checked in dry-run too, before anything changes: apt-get remove also removes every
    // package that depends on one it removes, which nobody declared.
    const simulation = await runProgram(aptGet, ["-s", "remove", "--", ...remove], {
      combined: true,
      env: APT_ENV,
    });
    if (simulation.exitCode !== 0)
      return fail(aptFailed(`simulating the removal of ${list(remove)}`, simulation));
    // apt names a package of the native architecture without ":arch", others with it.
    const base = (name: string) => name.replace(/:[^:]*$/, "");
    const named = new Set(remove.map(base));
    const others = parseSimulatedRemovals(simulation.stdout).filter((n) => !named.has(base(n)));
    if (others.length > 0) return fail(removalTakesOthers(remove, others));
  }
  if (!input.apply) {
    result.changes = [
      ...remove.map((name) => ({ name, action: "removed" as const })),
      ...install.map((p) => ({ name: p.name, action: "installed" as const })),
    ];
    if (remove.length > 0) log("verbose", `packages: would remove ${list(remove)}`);
    if (install.length > 0)
      log("verbose", `packages: would install ${list(install.map((p) => p.name))}`);
    return result;
  }

  // act: removals first (a package being replaced frees its port, its files)
  const step = (args: string[], names: string[], action: PackageChange["action"]) =>
    aptStep({ aptGet, dpkgQuery, log, changes: result.changes }, args, names, action);
  if (remove.length > 0) {
    const error = await step(["remove", "-y", ...LOCK_TIMEOUT], remove, "removed");
    if (error !== null) return fail(error);
  }
  if (install.length === 0) return result;

  log("verbose", "packages: running apt-get update");
  const update = await runProgram(aptGet, ["update"], { combined: true, env: APT_ENV });
  if (update.exitCode !== 0) return fail(aptFailed("apt-get update", update));
  // apt-get update exits 0 when a source cannot be reached (a mirror that does not resolve):
  // without these lines the only trace would be the install's "Unable to locate package".
  const messages = aptMessages(update.stdout);
  if (messages.length > 0) log("info", `apt-get update:\n${messages.join("\n")}`);

  for (const recommends of [false, true]) {
    const batch = install.filter((p) => p.recommends === recommends).map((p) => p.name);
    if (batch.length === 0) continue;
    const error = await step(aptInstall(recommends), batch, "installed");
    if (error !== null) return fail(error);
  }
  return result;
}

/**
 * Runs `apt-get <args> -- <names>`, then records as changes what dpkg-query shows done
 * (SPEC 5.2: the report says what happened). Returns the error: apt-get failed (apt's
 * output, where its errors are at the end), or a package is not in its state afterwards
 * (a name apt resolved to another package, a prerm that failed); both name those packages.
 */
async function aptStep(
  ctx: { aptGet: string; dpkgQuery: string; log: Log; changes: PackageChange[] },
  args: string[],
  names: string[],
  action: PackageChange["action"],
): Promise<string | null> {
  const verb = args[0];
  ctx.log("verbose", `packages: ${verb} ${list(names)}`);
  const run = await runProgram(ctx.aptGet, [...args, "--", ...names], {
    combined: true,
    env: APT_ENV,
  });
  ctx.log("debug", `apt-get ${verb} exited with status ${run.exitCode}:\n${run.stdout}`);
  const after = await queryInstalled(ctx.dpkgQuery, names);
  if (typeof after === "string") return after;
  const left = names.filter((n) => after.has(n) !== (action === "installed"));
  ctx.changes.push(...names.filter((n) => !left.includes(n)).map((name) => ({ name, action })));
  if (run.exitCode === 0 && left.length === 0) return null;
  const how = run.exitCode === 0 ? "succeeded" : `failed (exit status ${run.exitCode})`;
  const state = action === "installed" ? "not installed" : "still installed";
  const which = left.length > 0 ? `; ${state}: ${list(left)}` : "";
  return `apt-get ${verb} ${how}${which}:\n${tail(run.stdout + run.stderr)}`;
}

function list(names: string[]): string {
  return names.map(quote).join(", ");
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

// Fires when apt-get update or the simulation of a removal exits non-zero
// (broken repository, dpkg lock held, a package apt does not know).
function aptFailed(what: string, run: ShellResult): string {
  const output = tail(run.stdout + run.stderr);
  return `${what} failed: apt-get exited with status ${run.exitCode}:\n${output}`;
}

// Fires when the simulation shows that apt-get remove would remove packages
// that depend on the ones packages.yaml says absent (found before any change).
function removalTakesOthers(remove: string[], others: string[]): string {
  return `removing ${list(remove)} would also remove ${list(others)}, which depend on it; nothing was removed (list them as absent too)`;
}
