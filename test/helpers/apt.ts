// A local apt repository of tiny packages for the tests that use the real
// dpkg and apt (SPEC 9). The packages are built with dpkg-deb and served as a
// flat file repository; apt finds it through APT_CONFIG, a configuration file
// that points the source list, the lists and the cache to temporary
// directories, so the system's apt configuration is neither read for sources
// nor changed. Each test file uses its own package names (files run in
// parallel and share the machine's dpkg).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeTree, type Node } from "./tree.ts";

/** A package of the test repository. */
export interface TestPackage {
  name: string;
  description: string;
  /** Extra control fields ("Depends: x", "Recommends: y"). */
  control?: string[];
  /** Its files, DEBIAN/ included. */
  tree: Record<string, Node>;
}

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: "utf8" });
  assert.equal(r.status, 0, `${command} ${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** dpkg's status of a package: "ii " when installed, "rc " when only its conffiles are left,
 * "" when dpkg does not know it. */
export function dpkgStatus(name: string): string {
  const r = spawnSync("dpkg-query", ["-W", "-f=${db:Status-Abbrev}", name], { encoding: "utf8" });
  return r.status === 0 ? r.stdout : "";
}

/** Not installed and no configuration files left ("" or "un "/"pn " for dpkg). */
export const gone = (s: string): boolean => s === "" || s[1] === "n";

/** Purges a package; retries while another dpkg or apt holds dpkg's lock. */
export function purge(name: string): void {
  for (let i = 0; i < 120 && !gone(dpkgStatus(name)); i++) {
    if (spawnSync("dpkg", ["--purge", name], { stdio: "ignore" }).status === 0) break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
  assert.ok(gone(dpkgStatus(name)), `cannot purge ${name}: ${dpkgStatus(name)}`);
}

/** Installs a package of the repository directly with dpkg (a test's starting state). */
export function dpkgInstall(repo: string, name: string): void {
  for (let i = 0; i < 120; i++) {
    const r = spawnSync("dpkg", ["-i", join(repo, `${name}_1.0_all.deb`)], { encoding: "utf8" });
    if (r.status === 0) return;
    if (!/lock/.test(r.stderr)) assert.fail(`dpkg -i ${name}: ${r.stderr}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
  assert.fail(`dpkg -i ${name}: the dpkg lock stayed taken`);
}

/** Builds the .debs into `repo` (below `dir`) and writes its Packages and Release files. */
export function buildRepository(dir: string, repo: string, packages: TestPackage[]): void {
  const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
  mkdirSync(repo, { recursive: true });
  const entries: string[] = [];
  for (const pkg of packages) {
    const tree = join(dir, pkg.name);
    const control = [
      `Package: ${pkg.name}`,
      "Version: 1.0",
      "Architecture: all",
      "Maintainer: safcm tests <safcm-tests@example.org>",
      "Section: misc",
      "Priority: optional",
      ...(pkg.control ?? []),
      "Description: test package of safcm's end-to-end tests",
      pkg.description,
    ].join("\n");
    writeTree(tree, { "DEBIAN/control": control + "\n", ...pkg.tree });
    const deb = `${pkg.name}_1.0_all.deb`;
    run("dpkg-deb", ["--root-owner-group", "--build", tree, join(repo, deb)]);
    const data = readFileSync(join(repo, deb));
    entries.push(
      [control, `Filename: ./${deb}`, `Size: ${data.length}`, `SHA256: ${sha256(data)}`, ""].join(
        "\n",
      ),
    );
  }
  const index = entries.join("\n");
  writeFileSync(join(repo, "Packages"), index);
  const release = [
    "Origin: safcm-tests",
    "Label: safcm-tests",
    `Date: ${new Date().toUTCString().replace("GMT", "UTC")}`,
    "SHA256:",
    ` ${sha256(index)} ${Buffer.byteLength(index)} Packages`,
    "",
  ].join("\n");
  writeFileSync(join(repo, "Release"), release);
}

/** An apt configuration whose sources are `repo` (and `extraSources` lines), with lists and
 * cache in `dir`; returns the file to set as APT_CONFIG. */
export function aptConfig(dir: string, repo: string, extraSources: string[] = []): string {
  for (const d of ["sources.list.d", "lists/partial", "cache/archives/partial"]) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  writeFileSync(
    join(dir, "sources.list"),
    [`deb [trusted=yes] file:${repo} ./`, ...extraSources, ""].join("\n"),
  );
  const file = join(dir, "apt.conf");
  writeFileSync(
    file,
    [
      `Dir::Etc::SourceList "${join(dir, "sources.list")}";`,
      `Dir::Etc::SourceParts "${join(dir, "sources.list.d")}";`,
      `Dir::State::Lists "${join(dir, "lists")}";`,
      `Dir::Cache "${join(dir, "cache")}";`,
      // A source that cannot be reached fails at once instead of after apt's retries
      // (3 by default, with pauses: 7 s for a refused connection).
      `Acquire::Retries "0";`,
      "",
    ].join("\n"),
  );
  return file;
}
