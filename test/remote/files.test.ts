import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { MAX_DIFF_CONTENT, type FileChange } from "../../src/protocol/messages.ts";
import { syncFiles, type FilesResult } from "../../src/remote/files.ts";
import { leftovers, openFds, removeDir, request, snapshot, tempDir, type Spec } from "./util.ts";

/** A root (0755, root:root) and a directory outside it that attacks point at. */
function withDirs(
  fn: (root: string, outside: string) => void | Promise<void>,
): () => Promise<void> {
  return async () => {
    const root = tempDir();
    const outside = tempDir();
    chmodSync(root, 0o755);
    try {
      await fn(root, outside);
    } finally {
      removeDir(root);
      removeDir(outside);
    }
  };
}

function sync(root: string, specs: Spec[], apply = true): FilesResult {
  const { files, data } = request(specs);
  return syncFiles({ root, files, data, apply });
}

function paths(result: FilesResult): string[] {
  return result.changes.map((c) => c.path);
}

function oldData(result: FilesResult, change: FileChange): Buffer | null {
  if (change.old_data_offset === undefined) return null;
  const all = Buffer.concat(result.oldData);
  return all.subarray(
    change.old_data_offset,
    change.old_data_offset + (change.old_data_length ?? 0),
  );
}

function mode(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

const tree: Spec[] = [
  { path: "/" },
  { path: "/etc" },
  { path: "/etc/motd", content: "hello\n" },
  { path: "/etc/link", target: "motd" },
  { path: "/etc/app", mode: 0o750 },
  { path: "/etc/app/conf", content: "a=1\n", mode: 0o600 },
];

describe("files: create, update, no-op", () => {
  test(
    "creates a tree, then reports nothing the second time",
    withDirs((root) => {
      const first = sync(root, tree);
      assert.equal(first.error, null);
      assert.deepEqual(paths(first), [
        "/etc",
        "/etc/motd",
        "/etc/link",
        "/etc/app",
        "/etc/app/conf",
      ]);
      assert.ok(first.changes.every((c) => c.created && c.old === null));
      const motd = first.changes[1];
      assert.deepEqual(motd.new, {
        type: "file",
        mode: 0o644,
        user: "root",
        uid: 0,
        group: "root",
        gid: 0,
      });
      assert.equal(first.changes[2].new.mode, 0o777);
      assert.equal(readFileSync(join(root, "etc/motd"), "utf8"), "hello\n");
      assert.equal(readlinkSync(join(root, "etc/link")), "motd");
      assert.equal(mode(join(root, "etc/app")), 0o750);
      assert.equal(mode(join(root, "etc/app/conf")), 0o600);
      assert.deepEqual(leftovers(join(root, "etc")), []);

      const second = sync(root, tree);
      assert.equal(second.error, null);
      assert.deepEqual(second.changes, []);
    }),
  );

  test(
    "updates content and returns the old content for the diff",
    withDirs((root) => {
      sync(root, tree);
      const inode = statSync(join(root, "etc/motd")).ino;
      const changed = tree.map((s) => (s.path === "/etc/motd" ? { ...s, content: "bye\n" } : s));
      const result = sync(root, changed);
      assert.equal(result.error, null);
      assert.equal(result.changes.length, 1);
      const change = result.changes[0];
      assert.equal(change.path, "/etc/motd");
      assert.equal(change.created, false);
      assert.equal(change.content_changed, true);
      assert.equal(change.old_size, 6);
      assert.equal(oldData(result, change)?.toString(), "hello\n");
      assert.equal(readFileSync(join(root, "etc/motd"), "utf8"), "bye\n");
      assert.notEqual(
        statSync(join(root, "etc/motd")).ino,
        inode,
        "replaced by rename, not rewritten in place",
      );
      assert.deepEqual(leftovers(join(root, "etc")), []);
    }),
  );

  test(
    "a changed symlink target is reported with the old target as old content",
    withDirs((root) => {
      sync(root, tree);
      const result = sync(
        root,
        tree.map((s) => (s.path === "/etc/link" ? { ...s, target: "app/conf" } : s)),
      );
      assert.equal(result.error, null);
      assert.equal(result.changes.length, 1);
      assert.equal(oldData(result, result.changes[0])?.toString(), "motd");
      assert.equal(readlinkSync(join(root, "etc/link")), "app/conf");
    }),
  );

  test(
    "binary content is written and returned exactly",
    withDirs((root) => {
      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const reversed = Buffer.from(binary).reverse();
      sync(root, [{ path: "/" }, { path: "/bin.dat", content: binary }]);
      assert.deepEqual(readFileSync(join(root, "bin.dat")), binary);
      const result = sync(root, [{ path: "/" }, { path: "/bin.dat", content: reversed }]);
      assert.deepEqual(oldData(result, result.changes[0]), binary);
      assert.deepEqual(readFileSync(join(root, "bin.dat")), reversed);
    }),
  );

  test(
    "old content larger than the diff limit is not returned, only its size",
    withDirs((root) => {
      writeFileSync(join(root, "big"), Buffer.alloc(MAX_DIFF_CONTENT + 1, 0x61));
      const result = sync(root, [{ path: "/" }, { path: "/big", content: "small\n" }]);
      assert.equal(result.error, null);
      const change = result.changes[0];
      assert.equal(change.content_changed, true);
      assert.equal(change.old_size, MAX_DIFF_CONTENT + 1);
      assert.equal(change.old_data_offset, undefined);
      assert.equal(readFileSync(join(root, "big"), "utf8"), "small\n");
    }),
  );

  test(
    "a large file with identical content is not rewritten",
    withDirs((root) => {
      const big = Buffer.alloc(MAX_DIFF_CONTENT + 10, 0x62);
      writeFileSync(join(root, "big"), big);
      const inode = statSync(join(root, "big")).ino;
      const result = sync(root, [{ path: "/" }, { path: "/big", content: big }]);
      assert.deepEqual(result.changes, []);
      assert.equal(statSync(join(root, "big")).ino, inode);
    }),
  );
});

describe("files: owners and modes", () => {
  test(
    "owners by id and by name, set-id and sticky bits end up exactly",
    withDirs((root) => {
      const specs: Spec[] = [
        { path: "/" },
        { path: "/ids", content: "x", user: 1234, group: 1234, mode: 0o4755 },
        { path: "/names", content: "y", user: "nobody", group: "nogroup", mode: 0o2755 },
        { path: "/daemon", user: "daemon", group: "daemon", mode: 0o2775 },
        { path: "/tmp", mode: 0o1777 },
        { path: "/link", target: "ids", user: 1234, group: "daemon" },
      ];
      const result = sync(root, specs);
      assert.equal(result.error, null);
      const ids = lstatSync(join(root, "ids"));
      assert.deepEqual([ids.uid, ids.gid, ids.mode & 0o7777], [1234, 1234, 0o4755]);
      const names = lstatSync(join(root, "names"));
      assert.deepEqual([names.uid, names.gid, names.mode & 0o7777], [65534, 65534, 0o2755]);
      const daemon = lstatSync(join(root, "daemon"));
      assert.deepEqual([daemon.uid, daemon.gid, daemon.mode & 0o7777], [1, 1, 0o2775]);
      assert.equal(mode(join(root, "tmp")), 0o1777);
      const link = lstatSync(join(root, "link"));
      assert.deepEqual([link.uid, link.gid], [1234, 1]);
      const namesChange = result.changes.find((c) => c.path === "/names")!;
      assert.deepEqual(namesChange.new, {
        type: "file",
        mode: 0o2755,
        user: "nobody",
        uid: 65534,
        group: "nogroup",
        gid: 65534,
      });
      assert.equal(
        result.changes.find((c) => c.path === "/ids")!.new.user,
        null,
        "uid 1234 has no name",
      );
      assert.deepEqual(sync(root, specs).changes, []);
    }),
  );

  test(
    "a mode-only change of a file is reported without content change and applied",
    withDirs((root) => {
      writeFileSync(join(root, "f"), "same");
      chmodSync(join(root, "f"), 0o600);
      const result = sync(root, [
        { path: "/" },
        { path: "/f", content: "same", mode: 0o4750, user: 1234 },
      ]);
      assert.equal(result.error, null);
      const change = result.changes[0];
      assert.equal(change.content_changed, false);
      assert.equal(change.old_data_offset, undefined);
      assert.deepEqual([change.old?.mode, change.new.mode], [0o600, 0o4750]);
      assert.deepEqual([change.old?.uid, change.new.uid], [0, 1234]);
      assert.equal(mode(join(root, "f")), 0o4750);
      assert.equal(readFileSync(join(root, "f"), "utf8"), "same");
    }),
  );

  test(
    "directory mode and owner change in place",
    withDirs((root) => {
      mkdirSync(join(root, "d"), 0o777);
      chmodSync(join(root, "d"), 0o777);
      writeFileSync(join(root, "d/keep"), "data");
      const before = statSync(join(root, "d")).ino;
      const result = sync(root, [
        { path: "/" },
        { path: "/d", mode: 0o2750, user: 1234, group: "daemon" },
      ]);
      assert.equal(result.error, null);
      assert.deepEqual(result.changes, [
        {
          path: "/d",
          created: false,
          old: { type: "dir", mode: 0o777, user: "root", uid: 0, group: "root", gid: 0 },
          new: { type: "dir", mode: 0o2750, user: null, uid: 1234, group: "daemon", gid: 1 },
          content_changed: false,
        },
      ]);
      const st = statSync(join(root, "d"));
      assert.deepEqual([st.ino, st.uid, st.gid, st.mode & 0o7777], [before, 1234, 1, 0o2750]);
      assert.equal(readFileSync(join(root, "d/keep"), "utf8"), "data");
    }),
  );

  test(
    "the root entry itself is changed in place",
    withDirs((root) => {
      const result = sync(root, [{ path: "/", mode: 0o711, group: 1 }]);
      assert.equal(result.error, null);
      assert.deepEqual(paths(result), ["/"]);
      const st = statSync(root);
      assert.deepEqual([st.mode & 0o7777, st.gid], [0o711, 1]);
    }),
  );

  test(
    "an unknown owner found while checking changes nothing: the root stays byte-for-byte the same",
    withDirs((root) => {
      // As found on a real host (issue 9, item 6): /a, /a/f and /z were
      // created before "/z/f": unknown user.
      writeFileSync(join(root, "keep"), "old");
      for (const apply of [true, false]) {
        const before = snapshot(root);
        const result = sync(
          root,
          [
            { path: "/", mode: 0o711 },
            { path: "/a" },
            { path: "/a/f", content: "a" },
            { path: "/keep", content: "new", mode: 0o600 },
            { path: "/z" },
            { path: "/z/f", content: "z", user: "no-such-user-safcm" },
          ],
          apply,
        );
        assert.equal(result.error, '"/z/f": unknown user "no-such-user-safcm"');
        assert.deepEqual(result.changes, []);
        assert.deepEqual(snapshot(root), before);
      }
      assert.equal(
        sync(root, [{ path: "/" }, { path: "/g", content: "g", group: "no-such-group-safcm" }])
          .error,
        '"/g": unknown group "no-such-group-safcm"',
      );
      assert.deepEqual(readdirSync(root), ["keep"]);
    }),
  );
});

describe("files: attacks (SPEC 6)", () => {
  test(
    "a hard link planted at a managed path: never sent for a diff, its other name untouched",
    withDirs((root, outside) => {
      mkdirSync(join(root, "etc"));
      writeFileSync(join(outside, "secret"), "secret\n");
      linkSync(join(outside, "secret"), join(root, "etc/motd"));
      const result = sync(root, [{ path: "/etc" }, { path: "/etc/motd", content: "hello\n" }]);
      assert.equal(result.error, null);
      const change = result.changes.find((c) => c.path === "/etc/motd");
      assert.equal(change?.content_changed, true);
      assert.equal(oldData(result, change), null, "the linked file's content is not sent");
      assert.equal(change?.old_size, 7);
      assert.equal(readFileSync(join(outside, "secret"), "utf8"), "secret\n");
      assert.equal(readFileSync(join(root, "etc/motd"), "utf8"), "hello\n");
    }),
  );

  test(
    "symlinks are made in a private directory: nothing of it is left, and a stale one is removed",
    withDirs((root) => {
      mkdirSync(join(root, "etc"));
      // What a crash in symlinkAt leaves: a private directory (ours, 0700) holding the link.
      const stale = join(root, "etc", ".link.safcm-0123456789abcdef");
      mkdirSync(stale, { mode: 0o700 });
      symlinkSync("motd", join(stale, "link"));
      const result = sync(root, [
        { path: "/etc" },
        { path: "/etc/link", target: "motd", user: 1234, group: 2345 },
      ]);
      assert.equal(result.error, null);
      assert.deepEqual(readdirSync(join(root, "etc")), ["link"]);
      assert.equal(readlinkSync(join(root, "etc/link")), "motd");
      assert.deepEqual(
        [lstatSync(join(root, "etc/link")).uid, lstatSync(join(root, "etc/link")).gid],
        [1234, 2345],
      );
    }),
  );

  test(
    "a symlink in a parent component is never written through",
    withDirs((root, outside) => {
      symlinkSync(outside, join(root, "evil"));
      const result = sync(root, [{ path: "/evil/passwd", content: "owned\n" }]);
      assert.equal(result.error, '"/evil/passwd": symlink not permitted in path');
      assert.deepEqual(readdirSync(outside), []);
      assert.deepEqual(result.changes, []);
      // Dry-run compares on the host too and must refuse the same way.
      assert.equal(sync(root, [{ path: "/evil/passwd", content: "x" }], false).error, result.error);
    }),
  );

  test(
    "a symlink deeper in the path is refused as well",
    withDirs((root, outside) => {
      mkdirSync(join(root, "a"));
      symlinkSync(outside, join(root, "a/b"));
      const result = sync(root, [{ path: "/a/b/c/file", content: "x" }]);
      assert.equal(result.error, '"/a/b/c/file": symlink not permitted in path');
      assert.deepEqual(readdirSync(outside), []);
    }),
  );

  test(
    "a managed directory that is a symlink: the link is removed, its target untouched",
    withDirs((root, outside) => {
      writeFileSync(join(outside, "secret"), "keep");
      symlinkSync(outside, join(root, "etc"));
      const before = snapshot(outside);
      const result = sync(root, [
        { path: "/" },
        { path: "/etc" },
        { path: "/etc/secret", content: "new" },
      ]);
      assert.equal(result.error, null);
      assert.deepEqual(snapshot(outside), before);
      assert.ok(lstatSync(join(root, "etc")).isDirectory());
      assert.equal(readFileSync(join(root, "etc/secret"), "utf8"), "new");
      assert.equal(result.changes[0].old?.type, "symlink");
      assert.equal(result.changes[0].created, false);
      assert.equal(result.changes[1].created, true);
    }),
  );

  test(
    "a symlink at the final component of a file is not followed but replaced",
    withDirs((root, outside) => {
      writeFileSync(join(outside, "shadow"), "secret");
      symlinkSync(join(outside, "shadow"), join(root, "motd"));
      const result = sync(root, [{ path: "/" }, { path: "/motd", content: "hello" }]);
      assert.equal(result.error, null);
      assert.equal(readFileSync(join(outside, "shadow"), "utf8"), "secret");
      assert.ok(lstatSync(join(root, "motd")).isFile());
      assert.equal(readFileSync(join(root, "motd"), "utf8"), "hello");
      const change = result.changes[0];
      assert.equal(change.old?.type, "symlink");
      assert.equal(change.content_changed, true);
      assert.equal(
        oldData(result, change)?.toString(),
        join(outside, "shadow"),
        "old content is the link's target",
      );
    }),
  );

  test(
    "a FIFO at the final component does not hang the sync and is replaced",
    withDirs((root) => {
      assert.equal(spawnSync("mkfifo", [join(root, "fifo")]).status, 0);
      // In a child process with a timeout: a blocking open would hang this test runner.
      const script = `
        import { syncFiles } from ${JSON.stringify(new URL("../../src/remote/files.ts", import.meta.url).href)};
        const data = Buffer.from("content");
        const r = syncFiles({ root: ${JSON.stringify(root)}, apply: process.argv[1] === "apply", data,
          files: [{ path: "/fifo", type: "file", mode: 0o644, user: 0, group: 0, data_offset: 0, data_length: 7 }] });
        console.log(JSON.stringify(r));`;
      for (const how of ["dry-run", "apply"]) {
        const child = spawnSync(
          process.execPath,
          ["--import", "tsx", "--input-type=module", "-e", script, how],
          {
            timeout: 20_000,
            encoding: "utf8",
          },
        );
        assert.equal(child.signal, null, `${how} must not hang`);
        assert.equal(child.status, 0, child.stderr);
        const result = JSON.parse(child.stdout) as FilesResult;
        assert.equal(result.error, null);
        assert.equal(result.changes[0]?.old?.type, "fifo");
      }
      assert.ok(lstatSync(join(root, "fifo")).isFile());
      assert.equal(readFileSync(join(root, "fifo"), "utf8"), "content");
    }),
  );

  test(
    "a socket where a file belongs is replaced",
    withDirs(async (root) => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(join(root, "sock"), resolve));
      try {
        const result = sync(root, [{ path: "/" }, { path: "/sock", content: "x" }]);
        assert.equal(result.error, null);
        assert.equal(result.changes[0]?.old?.type, "socket");
        assert.ok(lstatSync(join(root, "sock")).isFile());
      } finally {
        server.close();
      }
    }),
  );

  test(
    "a non-empty directory is never replaced",
    withDirs((root) => {
      mkdirSync(join(root, "d"));
      writeFileSync(join(root, "d/data"), "precious");
      for (const apply of [false, true]) {
        for (const spec of [
          { path: "/d", content: "file" },
          { path: "/d", target: "elsewhere" },
        ]) {
          const result = sync(root, [{ path: "/" }, spec, { path: "/z", content: "after" }], apply);
          assert.equal(result.error, '"/d": will not replace non-empty directory');
          assert.deepEqual(paths(result), [], "found before any change: nothing changed");
          assert.equal(readFileSync(join(root, "d/data"), "utf8"), "precious");
          assert.deepEqual(leftovers(root), []);
          assert.deepEqual(readdirSync(root), ["d"]);
        }
      }
    }),
  );
});

describe("files: type changes", () => {
  test(
    "file -> symlink -> file, by rename over the old entry",
    withDirs((root) => {
      writeFileSync(join(root, "x"), "old file");
      let result = sync(root, [{ path: "/" }, { path: "/x", target: "/etc/hostname" }]);
      assert.equal(result.error, null);
      assert.equal(readlinkSync(join(root, "x")), "/etc/hostname");
      assert.deepEqual(
        [result.changes[0].old?.type, result.changes[0].new.type],
        ["file", "symlink"],
      );
      assert.equal(oldData(result, result.changes[0])?.toString(), "old file");

      result = sync(root, [{ path: "/" }, { path: "/x", content: "new file" }]);
      assert.equal(result.error, null);
      assert.ok(lstatSync(join(root, "x")).isFile());
      assert.equal(readFileSync(join(root, "x"), "utf8"), "new file");
      assert.deepEqual(
        [result.changes[0].old?.type, result.changes[0].new.type],
        ["symlink", "file"],
      );
      assert.deepEqual(leftovers(root), []);
    }),
  );

  test(
    "file -> directory: the file is removed, the directory and its children created",
    withDirs((root) => {
      writeFileSync(join(root, "d"), "was a file");
      const result = sync(root, [
        { path: "/" },
        { path: "/d", mode: 0o700 },
        { path: "/d/child", content: "c" },
      ]);
      assert.equal(result.error, null);
      assert.ok(lstatSync(join(root, "d")).isDirectory());
      assert.equal(mode(join(root, "d")), 0o700);
      assert.equal(readFileSync(join(root, "d/child"), "utf8"), "c");
      assert.deepEqual(
        result.changes.map((c) => [c.path, c.created, c.old?.type ?? null]),
        [
          ["/d", false, "file"],
          ["/d/child", true, null],
        ],
      );
    }),
  );

  test(
    "empty directory -> file and -> symlink",
    withDirs((root) => {
      mkdirSync(join(root, "a"));
      mkdirSync(join(root, "b"));
      const result = sync(root, [
        { path: "/" },
        { path: "/a", content: "now a file" },
        { path: "/b", target: "a" },
      ]);
      assert.equal(result.error, null);
      assert.equal(readFileSync(join(root, "a"), "utf8"), "now a file");
      assert.equal(readlinkSync(join(root, "b")), "a");
      assert.deepEqual(
        result.changes.map((c) => c.old?.type),
        ["dir", "dir"],
      );
    }),
  );
});

describe("files: dry-run", () => {
  // A host with one of every kind of difference.
  function stage(root: string, outside: string): Spec[] {
    mkdirSync(join(root, "etc"), 0o755);
    writeFileSync(join(root, "etc/motd"), "old motd\n");
    writeFileSync(join(root, "etc/same"), "same\n");
    chmodSync(join(root, "etc/same"), 0o644);
    writeFileSync(join(root, "etc/mode"), "m");
    chmodSync(join(root, "etc/mode"), 0o600);
    symlinkSync("old-target", join(root, "etc/link"));
    writeFileSync(join(root, "etc/tolink"), "file to become a link");
    mkdirSync(join(root, "etc/emptydir"));
    writeFileSync(join(root, "etc/todir"), "file to become a dir");
    symlinkSync(outside, join(root, "etc/linkdir"));
    mkdirSync(join(root, "srv"), 0o700);
    chmodSync(join(root, "srv"), 0o700);
    chownSync(join(root, "srv"), 1234, 1234);
    return [
      { path: "/" },
      { path: "/etc" },
      { path: "/etc/emptydir", content: "now a file" },
      { path: "/etc/link", target: "new-target" },
      { path: "/etc/linkdir" },
      { path: "/etc/linkdir/inside", content: "i" },
      { path: "/etc/mode", content: "m", mode: 0o640 },
      { path: "/etc/motd", content: "new motd\n" },
      { path: "/etc/new" },
      { path: "/etc/new/deeper" },
      { path: "/etc/new/deeper/file", content: "deep" },
      { path: "/etc/same", content: "same\n" },
      { path: "/etc/todir" },
      { path: "/etc/todir/child", target: "x" },
      { path: "/etc/tolink", target: "motd" },
      { path: "/srv", mode: 0o755 },
    ];
  }

  test(
    "leaves the disk untouched and reports exactly what a real run does",
    withDirs((root, outside) => {
      const specs = stage(root, outside);
      const before = snapshot(root);
      const outsideBefore = snapshot(outside);
      const fdsBefore = openFds();
      const dry = sync(root, specs, false);
      assert.equal(openFds(), fdsBefore, "no descriptor leaked");
      assert.equal(dry.error, null);
      assert.deepEqual(snapshot(root), before);
      assert.deepEqual(snapshot(outside), outsideBefore);

      const real = sync(root, specs, true);
      assert.equal(real.error, null);
      assert.deepEqual(dry.changes, real.changes);
      assert.deepEqual(Buffer.concat(dry.oldData), Buffer.concat(real.oldData));
      assert.deepEqual(snapshot(outside), outsideBefore);
      assert.deepEqual(
        dry.changes.map((c) => [c.path, c.created]),
        [
          ["/etc/emptydir", false],
          ["/etc/link", false],
          ["/etc/linkdir", false],
          ["/etc/linkdir/inside", true],
          ["/etc/mode", false],
          ["/etc/motd", false],
          ["/etc/new", true],
          ["/etc/new/deeper", true],
          ["/etc/new/deeper/file", true],
          ["/etc/todir", false],
          ["/etc/todir/child", true],
          ["/etc/tolink", false],
          ["/srv", false],
        ],
      );
      assert.deepEqual(
        sync(root, specs, false).changes,
        [],
        "after the real run, dry-run sees nothing to do",
      );
    }),
  );
});

describe("files: hygiene", () => {
  test(
    "no descriptor is leaked, on success or on error",
    withDirs((root, outside) => {
      const before = openFds();
      sync(root, tree);
      sync(root, tree);
      assert.equal(openFds(), before);
      symlinkSync(outside, join(root, "evil"));
      const failed = sync(root, [...tree, { path: "/evil/x", content: "x" }]);
      assert.match(failed.error ?? "", /symlink not permitted/);
      assert.equal(openFds(), before);
    }),
  );

  test("temporary files are removed when writing fails halfway (file system full)", (t) => {
    const mount = tempDir();
    try {
      // A real write error: a tiny tmpfs that the content does not fit in.
      const mounted = spawnSync("mount", [
        "-t",
        "tmpfs",
        "-o",
        "size=64k,mode=0755",
        "tmpfs",
        mount,
      ]);
      if (mounted.status !== 0) {
        t.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)");
        return;
      }
      try {
        writeFileSync(join(mount, "f"), "old");
        const result = sync(mount, [
          { path: "/" },
          { path: "/f", content: Buffer.alloc(1024 * 1024, 1) },
        ]);
        assert.match(result.error ?? "", /^"\/f": write: ENOSPC/);
        assert.deepEqual(readdirSync(mount), ["f"], "no temporary file left");
        assert.equal(readFileSync(join(mount, "f"), "utf8"), "old", "the old file is intact");
      } finally {
        spawnSync("umount", [mount]);
      }
    } finally {
      removeDir(mount);
    }
  });

  test(
    "an invalid mode is refused before anything is created",
    withDirs((root) => {
      const result = sync(root, [{ path: "/" }, { path: "/f", content: "x", mode: 0o17777 }]);
      assert.equal(result.error, '"/f": invalid mode');
      assert.deepEqual(readdirSync(root), []);
    }),
  );

  test(
    "a missing root is an error, not a crash",
    withDirs((root) => {
      const result = sync(join(root, "missing"), tree);
      assert.match(result.error ?? "", /cannot open root/);
    }),
  );
});

describe("files: set-group-ID parents (SPEC 6)", () => {
  test(
    "under a 2775 directory a subdirectory and a symlink sync twice, without error or leftovers",
    withDirs((root) => {
      // As found (issue 9, item 5): every subdirectory and symlink failed with
      // "the new directory was replaced while it was being created".
      const specs: Spec[] = [
        { path: "/" },
        { path: "/shared", mode: 0o2775, group: 1234 },
        { path: "/shared/sub" },
        { path: "/shared/sub/file", content: "x" },
        { path: "/shared/kept", mode: 0o2770, group: 1234 },
        { path: "/shared/link", target: "sub/file" },
      ];
      const first = sync(root, specs);
      assert.equal(first.error, null);
      const shared = join(root, "shared");
      const st = (p: string) => lstatSync(join(shared, p));
      // The kernel's inherited bit and group were replaced by the declared ones...
      assert.deepEqual([mode(join(shared, "sub")), st("sub").gid], [0o755, 0]);
      // ...or kept where declared.
      assert.deepEqual([mode(join(shared, "kept")), st("kept").gid], [0o2770, 1234]);
      assert.equal(readlinkSync(join(shared, "link")), "sub/file");
      assert.deepEqual(leftovers(shared), [], "no private directory of the symlink left");
      assert.deepEqual(sync(root, specs).changes, [], "the second sync changes nothing");
      assert.deepEqual(leftovers(shared), []);
    }),
  );

  test(
    "a user who owns a directory on the path cannot block syncs by setting g+s; a leftover private directory is removed",
    withDirs((root) => {
      const home = join(root, "home");
      mkdirSync(home);
      chownSync(home, 65534, 65534);
      // What that user can do to their own directory: set-group-ID, their group.
      chmodSync(home, 0o2755);
      // A symlink's private directory left by a crash inside it (it inherited the bit).
      const stale = join(home, ".link.safcm-0123456789abcdef");
      mkdirSync(stale, 0o700);
      assert.equal(mode(stale), 0o2700);
      symlinkSync("x", join(stale, "link"));
      const specs: Spec[] = [
        { path: "/" },
        { path: "/home", mode: 0o2755, user: 65534, group: 65534 },
        { path: "/home/dir", mode: 0o700 },
        { path: "/home/link", target: "dir" },
      ];
      const result = sync(root, specs);
      assert.equal(result.error, null);
      assert.deepEqual(leftovers(home), [], "the stale private directory was cleaned up");
      assert.deepEqual([mode(join(home, "dir")), lstatSync(join(home, "dir")).gid], [0o700, 0]);
      assert.deepEqual(sync(root, specs).changes, []);
    }),
  );
});

describe("files: private old content (SPEC 5.1)", () => {
  test(
    "the old content of a file whose old or new mode withholds read from others is not sent",
    withDirs((root) => {
      for (const [name, before, after] of [
        ["shadow", 0o640, 0o640],
        ["key", 0o644, 0o600],
        ["opened", 0o600, 0o644],
        ["public", 0o644, 0o644],
      ] as const) {
        writeFileSync(join(root, name), `old ${name}\n`);
        chmodSync(join(root, name), before);
        const result = sync(root, [
          { path: "/" },
          { path: `/${name}`, content: "new\n", mode: after },
        ]);
        assert.equal(result.error, null);
        const [change] = result.changes;
        assert.equal(change?.content_changed, true);
        assert.equal(change?.old_size, name.length + 5);
        if (name === "public") assert.equal(oldData(result, change)?.toString(), "old public\n");
        else {
          assert.equal(change?.old_data_offset, undefined, name);
          assert.equal(Buffer.concat(result.oldData).includes(`old ${name}`), false, name);
        }
      }
    }),
  );
});

describe("files: interruption (SPEC 5.5)", () => {
  test(
    "a stop request ends the run before its next change, leaving no temporary file",
    withDirs((root) => {
      // In a child process: the stop flag of src/remote/abort.ts stays set once requested.
      const src = (f: string) =>
        JSON.stringify(new URL(`../../src/remote/${f}`, import.meta.url).href);
      const script = `
        const { syncFiles } = await import(${src("files.ts")});
        const { requestStop } = await import(${src("abort.ts")});
        const file = (path, offset) => ({ path, type: "file", mode: 0o644, user: 0, group: 0, data_offset: offset, data_length: 1 });
        let lines = 0;
        const r = syncFiles({
          root: ${JSON.stringify(root)},
          files: [{ path: "/", type: "dir", mode: 0o755, user: 0, group: 0 }, file("/a", 0), file("/b", 1), file("/c", 2)],
          data: Buffer.from("abc"),
          apply: true,
          // The second change announced: as if SIGTERM arrived while the first was written.
          log: (level, text) => { if (level === "verbose" && ++lines === 2) requestStop(); },
        });
        console.log(JSON.stringify({ error: r.error, changes: r.changes.map((c) => c.path) }));`;
      const r = spawnSync(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", script],
        {
          encoding: "utf8",
        },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), {
        error: '"/b": interrupted: stopped before the next change',
        changes: ["/b"],
      });
      // /a was prepared (a temporary file) but not renamed yet when the stop
      // came: it stays unchanged, and the stop is reported at /b.
      assert.deepEqual(readdirSync(root), [], "nothing changed after the stop, no temporary file");
    }),
  );
});
