// The workstation's copy of the bundled runtime (SPEC 5.6): the npm package
// node-linux-<arch> at the pinned version, fetched with the user's own npm (so
// its registry, proxy and authentication settings apply) into
// $XDG_CACHE_HOME/safcm/runtime or ~/.cache/safcm/runtime. Every read checks
// the pinned integrity before a byte is used; a cache that holds a verified
// copy is never fetched again, a copy that does not verify is fetched anew.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { RUNTIME_PACKAGES, RUNTIME_VERSION, type RuntimeArch } from "./pin.ts";

/** Where progress goes (standard error in the CLI). */
export interface Progress {
  write(text: string): void;
  /** A terminal: a ticking line is redrawn in place. */
  isTTY: boolean;
}

export class RuntimeFetchError extends Error {
  override name = "RuntimeFetchError";
}

/**
 * safcm's cache directory on the workstation: $XDG_CACHE_HOME/safcm, else
 * $HOME/.cache/safcm. A HOME that is empty or relative (a cron job, `env -i`)
 * is replaced by the user's home from the password database, never taken
 * relative to wherever safcm was started.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && xdg.startsWith("/")) return join(xdg, "safcm");
  const home = env.HOME?.startsWith("/") === true ? env.HOME : userInfo().homedir;
  if (!home.startsWith("/")) {
    throw new RuntimeFetchError(
      "safcm has no cache directory: set HOME or XDG_CACHE_HOME to an absolute path",
    );
  }
  return join(home, ".cache", "safcm");
}

export function packageFileName(arch: RuntimeArch): string {
  return `${RUNTIME_PACKAGES[arch].name}-${RUNTIME_VERSION}.tgz`;
}

export function cachedPackagePath(arch: RuntimeArch): string {
  return join(cacheDir(), "runtime", packageFileName(arch));
}

function integrityOf(data: Buffer): string {
  return `sha512-${createHash("sha512").update(data).digest("base64")}`;
}

export type CacheState = { state: "verified"; data: Buffer } | { state: "missing" | "mismatch" };

/** Reads the cached package and checks it against the pinned integrity. */
export function readCachedPackage(arch: RuntimeArch): CacheState {
  let data: Buffer;
  try {
    data = readFileSync(cachedPackagePath(arch));
  } catch {
    return { state: "missing" };
  }
  return integrityOf(data) === RUNTIME_PACKAGES[arch].integrity
    ? { state: "verified", data }
    : { state: "mismatch" };
}

const MiB = 1024 * 1024;

/** Runs `npm pack <name>@<version>` into a private directory; returns the tarball's path. */
async function npmPack(arch: RuntimeArch, dest: string, progress: Progress): Promise<string> {
  const spec = `${RUNTIME_PACKAGES[arch].name}@${RUNTIME_VERSION}`;
  const started = Date.now();
  const line = `safcm: fetching the bundled runtime ${spec} (about 50 MiB) with npm into ${cacheDir()}`;
  progress.write(progress.isTTY ? line : `${line}\n`);
  const ticker = progress.isTTY
    ? setInterval(
        () => progress.write(`\r${line} ... ${Math.round((Date.now() - started) / 1000)} s`),
        1000,
      )
    : null;
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        "npm",
        ["pack", spec, "--pack-destination", dest, "--ignore-scripts", "--loglevel=error"],
        { cwd: dest, stdio: ["ignore", "ignore", "pipe"] },
      );
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4096)));
      child.on("error", (e) =>
        reject(new RuntimeFetchError(`cannot run npm to fetch ${spec}: ${e.message}`)),
      );
      child.on("close", (code) => (code === 0 ? resolve() : reject(npmError(spec, code, err))));
    });
  } finally {
    if (ticker !== null) clearInterval(ticker);
    if (progress.isTTY) progress.write("\n");
  }
  return join(dest, packageFileName(arch));
}

function npmError(spec: string, code: number | null, stderr: string): RuntimeFetchError {
  const last = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-2)
    .join(" ");
  return new RuntimeFetchError(
    `npm could not fetch ${spec} (exit status ${code})${last === "" ? "" : `: ${last}`}`,
  );
}

/**
 * The verified package for an architecture: from the cache, or fetched with
 * npm, verified and then cached. `fetched` says whether npm was run.
 */
export async function runtimePackage(
  arch: RuntimeArch,
  progress: Progress,
): Promise<{ data: Buffer; fetched: boolean }> {
  const cached = readCachedPackage(arch);
  if (cached.state === "verified") return { data: cached.data, fetched: false };
  if (cached.state === "mismatch") {
    progress.write(
      `safcm: the cached ${packageFileName(arch)} does not match the pinned integrity; fetching it again\n`,
    );
  }
  const dir = join(cacheDir(), "runtime");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = mkdtempSync(join(dir, ".fetch-"));
  try {
    const started = Date.now();
    const path = await npmPack(arch, tmp, progress);
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch {
      throw new RuntimeFetchError(`npm did not leave ${packageFileName(arch)} where expected`);
    }
    if (integrityOf(data) !== RUNTIME_PACKAGES[arch].integrity) {
      throw new RuntimeFetchError(
        `the fetched ${packageFileName(arch)} does not match the integrity pinned in safcm; not used`,
      );
    }
    renameSync(path, cachedPackagePath(arch));
    progress.write(
      `safcm: fetched and verified ${packageFileName(arch)} (${(data.length / MiB).toFixed(1)} MiB in ${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
    );
    return { data, fetched: true };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const pending = new Map<RuntimeArch, Promise<{ data: Buffer; fetched: boolean }>>();

/** runtimePackage, once per run and architecture however many hosts need it. */
export function runtimePackageOnce(
  arch: RuntimeArch,
  progress: Progress,
): Promise<{ data: Buffer; fetched: boolean }> {
  let p = pending.get(arch);
  if (p === undefined) {
    p = runtimePackage(arch, progress);
    // A failed fetch may be retried by a later host only in a later run.
    pending.set(arch, p);
  }
  return p;
}
