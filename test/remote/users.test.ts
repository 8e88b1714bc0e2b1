import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadUserDb, parseIdFile, processOwner, resolveOwner } from "../../src/remote/users.ts";
import { removeDir, tempDir } from "./util.ts";

test("parses passwd lines; comments, NIS and malformed lines are skipped; the first entry wins", () => {
  const map = parseIdFile(
    [
      "root:x:0:0:root:/root:/bin/bash",
      "# comment:x:5:5",
      "+nis::::",
      "broken:x:notanumber:1",
      "short:x",
      "toor:x:0:0::/root:/bin/sh",
      "root:x:99:99::/:/bin/false",
      "",
    ].join("\n"),
  );
  assert.deepEqual(
    [...map.byName],
    [
      ["root", 0],
      ["toor", 0],
    ],
  );
  assert.equal(map.byId.get(0), "root");
});

test("resolves ids and names; an unknown name is an error", () => {
  const dir = tempDir();
  try {
    writeFileSync(
      join(dir, "passwd"),
      "root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n",
    );
    writeFileSync(join(dir, "group"), "root:x:0:\nwww:x:33:web\n");
    const db = loadUserDb(join(dir, "passwd"), join(dir, "group"));
    assert.deepEqual(resolveOwner(db.users, "web", "user"), { id: 33, name: "web" });
    assert.deepEqual(resolveOwner(db.groups, 33, "group"), { id: 33, name: "www" });
    assert.deepEqual(resolveOwner(db.users, 1234, "user"), { id: 1234, name: null });
    assert.throws(() => resolveOwner(db.groups, "web", "group"), {
      message: 'unknown group "web"',
    });
    assert.deepEqual(loadUserDb(join(dir, "none"), join(dir, "none")).users.byName.size, 0);
  } finally {
    removeDir(dir);
  }
});

test("the helper's own uid and gid are named from the host's database", () => {
  assert.deepEqual(processOwner(loadUserDb()), { uid: 0, gid: 0, user: "root", group: "root" });
});
