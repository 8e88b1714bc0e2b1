// Packages (SPEC 5.2): the dpkg-query parser against recorded outputs (cases
// as data in test/fixtures/dpkg-query/), and the refusals that come before
// anything is run. The real dpkg and apt are in test/e2e/packages.test.ts.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";
import {
  PACKAGE_NAME,
  missingPackages,
  parseDpkgQuery,
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
    const r = await syncPackages({ root: "/srv/image", packages: ["htop"], apply: false });
    assert.deepEqual(r.changes, []);
    assert.match(
      String(r.error),
      /^packages need root "\/", but this host's root is "\/srv\/image"/,
    );
  });

  test("a host without dpkg-query and apt-get in PATH is an error naming the OS", async () => {
    const dir = tempDir();
    try {
      const r = await syncPackages({ root: "/", packages: ["htop"], apply: true, path: dir });
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
      packages: ["htop", "-o=APT::x"],
      apply: true,
      path: "",
    });
    assert.match(String(r.error), /^invalid package name "-o=APT::x"/);
  });
});
