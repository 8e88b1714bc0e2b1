import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  closeSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  NON_EMPTY_DIR,
  SYMLINK_IN_PATH,
  changeDir,
  mkdirAt,
  openDirAt,
  openRoot,
  rmdirAt,
  symlinkAt,
  tempName,
  unlinkAt,
  writeFileAt,
} from "../../src/remote/safe-fs.ts";
import { nodeInMountNamespace } from "../helpers/proc.ts";
import { leftovers, removeDir, tempDir } from "./util.ts";

function withRoot(fn: (root: string, rootFd: number, outside: string) => void): () => void {
  return () => {
    const root = tempDir();
    const outside = tempDir();
    const rootFd = openRoot(root);
    try {
      fn(root, rootFd, outside);
    } finally {
      closeSync(rootFd);
      removeDir(root);
      removeDir(outside);
    }
  };
}

describe("safe-fs", () => {
  test(
    "openDirAt refuses a symlink to a directory",
    withRoot((root, rootFd, outside) => {
      symlinkSync(outside, join(root, "link"));
      assert.throws(() => openDirAt(rootFd, "link"), { message: SYMLINK_IN_PATH });
      writeFileSync(join(root, "file"), "");
      assert.throws(() => openDirAt(rootFd, "file"), { message: '"file" is not a directory' });
      assert.throws(() => openDirAt(rootFd, "missing"), {
        message: 'directory "missing" does not exist',
      });
    }),
  );

  test(
    "names that could leave the directory are refused",
    withRoot((_root, rootFd) => {
      for (const name of ["..", ".", "", "a/b", "a\0b"]) {
        assert.throws(
          () => writeFileAt(rootFd, name, Buffer.from("x"), 0o644, 0, 0),
          /invalid path component/,
        );
      }
    }),
  );

  test(
    "writeFileAt replaces a symlink instead of writing through it",
    withRoot((root, rootFd, outside) => {
      writeFileSync(join(outside, "target"), "untouched");
      symlinkSync(join(outside, "target"), join(root, "f"));
      writeFileAt(rootFd, "f", Buffer.from("new"), 0o640, 1234, 1);
      assert.equal(readFileSync(join(outside, "target"), "utf8"), "untouched");
      const st = lstatSync(join(root, "f"));
      assert.ok(st.isFile());
      assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o640, 1234, 1]);
      assert.deepEqual(leftovers(root), []);
    }),
  );

  test(
    "a failed rename removes the temporary file (file and symlink)",
    withRoot((root, rootFd) => {
      mkdirSync(join(root, "d"));
      writeFileSync(join(root, "d/keep"), "keep");
      assert.throws(() => writeFileAt(rootFd, "d", Buffer.from("x"), 0o644, 0, 0), {
        syscall: "rename",
      });
      assert.throws(() => symlinkAt(rootFd, "d", "target", 0, 0), { syscall: "rename" });
      assert.deepEqual(readdirSync(root), ["d"]);
      assert.equal(readFileSync(join(root, "d/keep"), "utf8"), "keep");
    }),
  );

  test("temporary names start with a dot and the target's name and stay short", () => {
    assert.match(tempName("motd"), /^\.motd\.safcm-[0-9a-f]{16}$/);
    assert.notEqual(tempName("motd"), tempName("motd"));
    assert.ok(Buffer.byteLength(tempName("ä".repeat(127))) <= 255);
  });

  test(
    "mkdirAt sets owner and final mode, including set-id bits",
    withRoot((root, rootFd) => {
      const fd = mkdirAt(rootFd, "d", 0o2750, 1234, 1);
      closeSync(fd);
      const st = lstatSync(join(root, "d"));
      assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o2750, 1234, 1]);
    }),
  );

  test(
    "rmdirAt removes only empty directories; unlinkAt never removes a directory",
    withRoot((root, rootFd) => {
      mkdirSync(join(root, "full"));
      writeFileSync(join(root, "full/x"), "x");
      assert.throws(() => rmdirAt(rootFd, "full"), { message: NON_EMPTY_DIR });
      assert.throws(() => unlinkAt(rootFd, "full"));
      assert.ok(lstatSync(join(root, "full/x")).isFile());
      mkdirSync(join(root, "empty"));
      rmdirAt(rootFd, "empty");
      assert.deepEqual(readdirSync(root), ["full"]);
    }),
  );

  test(
    "changeDir ends with exactly the wanted mode and owner",
    withRoot((root, rootFd) => {
      for (const [mode, uid, gid] of [
        [0o1777, 0, 0],
        [0o2750, 1234, 1234],
        [0o700, 1234, 1234],
        [0o4755, 0, 1],
      ] as const) {
        const fd = openDirAt(rootFd, (mkdirSync(join(root, `d${mode}`)), `d${mode}`));
        changeDir(fd, fstatSync(fd), mode, uid, gid);
        closeSync(fd);
        const st = lstatSync(join(root, `d${mode}`));
        assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [mode, uid, gid]);
      }
    }),
  );

  test(
    "opening a FIFO for comparison does not block",
    withRoot((root) => {
      assert.equal(spawnSync("mkfifo", [join(root, "fifo")]).status, 0);
      const script = `
        import { openRoot, openForCompare } from ${JSON.stringify(new URL("../../src/remote/safe-fs.ts", import.meta.url).href)};
        const { stat } = openForCompare(openRoot(${JSON.stringify(root)}), "fifo");
        console.log(stat.isFIFO());`;
      const child = spawnSync(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", script],
        {
          timeout: 20_000,
          encoding: "utf8",
        },
      );
      assert.equal(child.signal, null, "must not hang");
      assert.equal(child.stdout.trim(), "true", child.stderr);
    }),
  );
});

test("a fake /proc (not procfs) fails before anything is looked at", (t) => {
  // A private mount namespace where /proc is a tmpfs with a plain directory
  // at /proc/self/fd: paths below it would not lead into open directories.
  const root = tempDir();
  try {
    const script = `
      const { syncFiles } = await import(${JSON.stringify(new URL("../../src/remote/files.ts", import.meta.url).href)});
      const r = syncFiles({ root: ${JSON.stringify(root)}, files: [{ path: "/f", type: "file", mode: 420, user: 0, group: 0, data_offset: 0, data_length: 1 }], data: Buffer.from("x"), apply: true });
      console.log(JSON.stringify(r.error));`;
    const { result: r, unavailable } = nodeInMountNamespace(
      "mount -t tmpfs tmpfs /proc && mkdir -p /proc/self/fd",
      script,
    );
    if (unavailable !== null) {
      t.skip(`cannot make a mount namespace here: ${unavailable}`);
      return;
    }
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      JSON.parse(r.stdout) as string,
      /^\/proc\/self\/fd is not procfs \(file system type 0x1021994\)/,
    );
    assert.deepEqual(readdirSync(root), []);
  } finally {
    removeDir(root);
  }
});
