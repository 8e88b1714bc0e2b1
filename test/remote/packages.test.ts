// Packages (SPEC 5.2): the dpkg-query parser against recorded outputs (cases
// as data in test/fixtures/dpkg-query/), and the refusals that come before
// anything is run. The real dpkg and apt are in test/e2e/packages.test.ts.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";
import type { PackageEntry } from "../../src/protocol/messages.ts";
import {
  PACKAGE_NAME,
  aptMessages,
  decidePackages,
  missingPackages,
  parseDpkgQuery,
  parseSimulatedRemovals,
  syncPackages,
} from "../../src/remote/packages.ts";
import { osName } from "../../src/remote/os.ts";
import { PACKAGE_NAME as LOCAL_PACKAGE_NAME } from "../../src/config/names.ts";
import { removeDir, tempDir } from "./util.ts";

interface Case {
  comment?: string;
  wanted: string[];
  output: string;
  missing?: string[];
  error?: string;
}

const FIXTURES = new URL("../fixtures/dpkg-query/", import.meta.url);

/** packages.yaml names: present, without Recommends. */
const present = (...names: string[]): PackageEntry[] =>
  names.map((name) => ({ name, state: "present", recommends: false }));

describe("dpkg-query output", () => {
  for (const file of readdirSync(FIXTURES).sort()) {
    const c = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8")) as Case;
    test(`${file}: ${c.comment ?? ""}`, () => {
      if (c.error !== undefined) {
        assert.throws(() => parseDpkgQuery(c.output), { message: new RegExp(c.error) });
        return;
      }
      assert.deepEqual(missingPackages(c.wanted, parseDpkgQuery(c.output)), c.missing);
    });
  }
});

test("decide: present and missing is installed, absent and installed is removed", () => {
  const installed = parseDpkgQuery(
    "telnet\tamd64\tii \nnginx\tamd64\tii \nrsh-client\tamd64\trc \nlibc6\ti386\tii \n",
  );
  const wanted: PackageEntry[] = [
    ...present("nginx", "htop"),
    { name: "fail2ban", state: "present", recommends: true },
    { name: "telnet", state: "absent", recommends: false },
    { name: "rsh-client", state: "absent", recommends: false }, // only its conffiles are left
    { name: "libc6:i386", state: "absent", recommends: false },
  ];
  assert.deepEqual(decidePackages(wanted, installed), {
    install: [wanted[1], wanted[2]],
    remove: ["telnet", "libc6:i386"],
  });
});

test("a simulated removal: the packages apt would remove", () => {
  const output = [
    "NOTE: This is only a simulation!",
    "      apt-get needs root privileges for real execution.",
    "Reading package lists...",
    "The following packages will be REMOVED:",
    "  libfoo1 foo-tools",
    "0 upgraded, 0 newly installed, 2 to remove and 0 not upgraded.",
    "Remv foo-tools [1.0-1]",
    "Remv libfoo1:amd64 [1.0-1]",
    "",
  ].join("\n");
  assert.deepEqual(parseSimulatedRemovals(output), ["foo-tools", "libfoo1:amd64"]);
});

test("apt's warnings and errors in the output of apt-get update, with their indented reasons", () => {
  // As apt 2.6 prints it when a mirror's name does not resolve (exit status 0).
  const output = [
    "Hit:1 file:/srv/repo ./ InRelease",
    "Err:2 http://deb.example.invalid/debian bookworm InRelease",
    "  Temporary failure resolving 'deb.example.invalid'",
    "Reading package lists...",
    "W: Failed to fetch http://deb.example.invalid/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.example.invalid'",
    "W: Some index files failed to download. They have been ignored, or old ones used instead.",
    "",
  ].join("\n");
  assert.deepEqual(aptMessages(output), [
    "Err:2 http://deb.example.invalid/debian bookworm InRelease",
    "  Temporary failure resolving 'deb.example.invalid'",
    "W: Failed to fetch http://deb.example.invalid/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.example.invalid'",
    "W: Some index files failed to download. They have been ignored, or old ones used instead.",
  ]);
  assert.deepEqual(
    aptMessages("Hit:1 file:/srv/repo ./ InRelease\nReading package lists...\n"),
    [],
  );
});

describe("package names", () => {
  const valid = ["htop", "g++", "libstdc++6", "python3.11", "libc6:i386", "0ad", "xz-utils"];
  const invalid = [
    "-y",
    "Htop",
    "a",
    "vim nano",
    "foo=1.0",
    "~i",
    "foo/bookworm",
    "foo:",
    "",
    "../x",
    "foo;rm",
  ];
  test("the helper and the local check agree on valid names", () => {
    for (const name of valid) {
      assert.ok(PACKAGE_NAME.test(name), name);
      assert.ok(LOCAL_PACKAGE_NAME.test(name), name);
    }
  });
  test("the helper and the local check agree on invalid names", () => {
    for (const name of invalid) {
      assert.ok(!PACKAGE_NAME.test(name), name);
      assert.ok(!LOCAL_PACKAGE_NAME.test(name), name);
    }
  });
});

describe("refusals before anything runs", () => {
  test("an empty list does nothing, even without apt or a root of /", async () => {
    const r = await syncPackages({ root: "/srv/x", packages: [], apply: true, path: "" });
    assert.deepEqual(r, { changes: [], error: null });
  });

  test("a root other than / is an error naming the root", async () => {
    const r = await syncPackages({ root: "/srv/image", packages: present("htop"), apply: false });
    assert.deepEqual(r.changes, []);
    assert.match(
      String(r.error),
      /^packages need root "\/", but this host's root is "\/srv\/image"/,
    );
  });

  test("a host without dpkg-query and apt-get in PATH is an error naming the OS", async () => {
    const dir = tempDir();
    try {
      const r = await syncPackages({
        root: "/",
        packages: present("htop"),
        apply: true,
        path: dir,
      });
      assert.equal(
        r.error,
        `packages need apt and dpkg (Debian family), which this host (OS ${JSON.stringify(osName())}) does not have`,
      );
    } finally {
      removeDir(dir);
    }
  });

  test("an invalid name is refused before any command runs", async () => {
    const r = await syncPackages({
      root: "/",
      packages: present("htop", "-o=APT::x"),
      apply: true,
      path: "",
    });
    assert.match(String(r.error), /^invalid package name "-o=APT::x"/);
  });
});
