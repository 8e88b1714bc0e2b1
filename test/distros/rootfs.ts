// Root file systems of real Debian releases for the distro harness (run.ts):
// built with mmdebstrap from the Debian archive that this machine's apt uses,
// kept as tarballs in a cache between runs, and rebuilt only when the recipe
// (release, archive, packages, hook) changes. Each run unpacks a fresh copy.

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface Release {
  /** Host name in the harness's hosts.yaml. */
  host: string;
  version: string;
  codename: string;
  /** Major version of the release's own Node.js package (bullseye's 12 is too old: runtime auto uploads the bundled one). */
  node: number;
}

export const RELEASES: Release[] = [
  { host: "debian11", version: "11", codename: "bullseye", node: 12 },
  { host: "debian12", version: "12", codename: "bookworm", node: 18 },
  { host: "debian13", version: "13", codename: "trixie", node: 20 },
];

/** What every root file system has besides minbase: an sshd to log in to, the release's own Node.js. */
const INCLUDE = ["openssh-server", "nodejs"];

// Daemons must not start while packages are installed, at build time or when the
// sync installs redis-server: there is no init system in the namespace, and a
// started daemon would outlive nothing but keep files busy. mmdebstrap writes a
// policy-rc.d of its own but removes it at the end; ours stays in the image.
const POLICY_RC_D =
  'printf "#!/bin/sh\\n# test/distros: no daemon starts in this root file system\\nexit 101\\n" > "$1/usr/sbin/policy-rc.d" && chmod 0755 "$1/usr/sbin/policy-rc.d"';

// Speed only, as container images of Debian do: dpkg without an fsync per
// unpacked file (the sync's apt-get install took ~3 minutes for three hosts on a
// busy disk), and the package lists of the build kept, so that the sync's
// apt-get update fetches differences. safcm's own writes are not affected.
const UNSAFE_IO = 'echo force-unsafe-io > "$1/etc/dpkg/dpkg.cfg.d/safcm-harness-unsafe-io"';

export interface Archive {
  /** The Debian archive (".../debian"). */
  debian: string;
  /** Its security archive (".../debian-security"), when apt uses one. */
  security: string | null;
}

/**
 * The Debian archive this machine's apt uses: the URIs of the enabled "deb" sources
 * (one-line .list and deb822 .sources files) that serve Debian suites.
 */
export function machineArchive(): Archive {
  const sources: { uri: string; suites: string[] }[] = [];
  const files: string[] = [];
  if (existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
  if (existsSync("/etc/apt/sources.list.d")) {
    for (const name of readdirSync("/etc/apt/sources.list.d").sort()) {
      if (name.endsWith(".list") || name.endsWith(".sources")) {
        files.push(join("/etc/apt/sources.list.d", name));
      }
    }
  }
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string): string[] => {
          const m = new RegExp(`^${name}:[ \\t]*(.*)$`, "mi").exec(stanza);
          return m === null ? [] : m[1].trim().split(/\s+/);
        };
        if (!field("Types").includes("deb") || field("Enabled")[0] === "no") continue;
        for (const uri of field("URIs")) sources.push({ uri, suites: field("Suites") });
      }
    } else {
      for (const line of text.split("\n")) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
        if (m !== null) sources.push({ uri: m[1], suites: [m[2]] });
      }
    }
  }
  const debianSuite =
    /^(bullseye|bookworm|trixie|forky|sid|stable|oldstable|testing|unstable)(-updates)?$/;
  const securitySuite = /-security$|\/updates$/;
  const strip = (uri: string) => uri.replace(/\/+$/, "");
  const debian = sources.find((s) => s.suites.some((x) => debianSuite.test(x)));
  if (debian === undefined) {
    throw new Error(
      `no Debian archive found in ${files.join(", ") || "/etc/apt"}: the harness builds from the archive this machine's apt uses`,
    );
  }
  const security = sources.find((s) => s.suites.some((x) => securitySuite.test(x)));
  return {
    debian: strip(debian.uri),
    security: security === undefined ? null : strip(security.uri),
  };
}

/** The mmdebstrap arguments that build `release` into `output` (a tarball). */
function recipe(release: Release, archive: Archive, output: string): string[] {
  const c = release.codename;
  const mirrors = [`deb ${archive.debian} ${c} main`, `deb ${archive.debian} ${c}-updates main`];
  if (archive.security !== null) mirrors.push(`deb ${archive.security} ${c}-security main`);
  return [
    "--variant=minbase",
    `--include=${INCLUDE.join(",")}`,
    "--skip=chroot/policy-rc.d",
    `--essential-hook=${POLICY_RC_D}`,
    `--customize-hook=${UNSAFE_IO}`,
    "--skip=cleanup/apt/lists",
    "--skip=output/dev",
    c,
    output,
    ...mirrors,
  ];
}

/** The cache of built tarballs: $SAFCM_DISTROS_CACHE, else $XDG_CACHE_HOME/safcm-distros or ~/.cache/safcm-distros. */
export function cacheDir(): string {
  const own = process.env.SAFCM_DISTROS_CACHE;
  if (own !== undefined && own !== "") return own;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(
    xdg !== undefined && xdg.startsWith("/") ? xdg : join(homedir(), ".cache"),
    "safcm-distros",
  );
}

/** Bump to rebuild every cached image without another change of the recipe. */
const RECIPE_VERSION = 1;

export interface Image {
  tarball: string;
  /** Seconds the build took (null: taken from the cache). */
  built: number | null;
}

/**
 * The tarball of `release`: from the cache when one was built with the same
 * recipe, else built now (older tarballs of the release are removed). The build's
 * output goes to `log`.
 */
export async function image(
  release: Release,
  archive: Archive,
  options: { rebuild: boolean; log: (line: string) => void },
): Promise<Image> {
  const dir = cacheDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = createHash("sha256")
    .update(JSON.stringify([RECIPE_VERSION, recipe(release, archive, "OUT")]))
    .digest("hex")
    .slice(0, 16);
  const tarball = join(dir, `${release.codename}-${key}.tar`);
  if (!options.rebuild && existsSync(tarball) && statSync(tarball).isFile()) {
    return { tarball, built: null };
  }
  const partial = `${tarball}.partial`;
  rmSync(partial, { force: true, recursive: true });
  const logFile = join(dir, `${release.codename}.log`);
  options.log(`building ${release.host} (${release.codename}) with mmdebstrap; log: ${logFile}`);
  const started = Date.now();
  const code = await new Promise<number | null>((resolve, reject) => {
    const out = spawnSync("sh", ["-c", `: > "$1"`, "sh", logFile]);
    if (out.status !== 0) reject(new Error(`cannot write ${logFile}`));
    const child = spawn(
      "sh",
      // The format is not part of the recipe: mmdebstrap would guess it from the name.
      [
        "-c",
        'exec mmdebstrap --format=tar "$@" >> "$0" 2>&1',
        logFile,
        ...recipe(release, archive, partial),
      ],
      { stdio: "ignore" },
    );
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) {
    rmSync(partial, { force: true });
    const tail = readFileSync(logFile, "utf8").trim().split("\n").slice(-5).join("\n  ");
    throw new Error(`mmdebstrap failed for ${release.codename} (exit ${code}):\n  ${tail}`);
  }
  for (const name of readdirSync(dir)) {
    if (name.startsWith(`${release.codename}-`) && name.endsWith(".tar")) {
      rmSync(join(dir, name), { force: true });
    }
  }
  renameSync(partial, tarball);
  return { tarball, built: (Date.now() - started) / 1000 };
}

/** Unpacks `tarball` into the new directory `root`. */
export function unpack(tarball: string, root: string): void {
  mkdirSync(root, { mode: 0o755 });
  const r = spawnSync("tar", ["-x", "-p", "--numeric-owner", "-f", tarball, "-C", root], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`tar could not unpack ${tarball}: ${r.stderr.trim()}`);
}
