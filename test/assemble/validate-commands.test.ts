// validate.yaml across groups (SPEC 3.5, 3.6): the command is a property of the path, from
// the groups that name it; the higher group wins, unordered groups that differ conflict.

import { test } from "node:test";
import assert from "node:assert/strict";
import { build, buildError } from "./build.ts";

const sshd = "/etc/ssh/sshd_config";

test("a validate command reaches the file's entry, also when a higher group has the content", () => {
  const b = build({
    "hosts.yaml": "- name: h1\n",
    "all/files/etc/ssh/sshd_config": "Port 22\n",
    "all/validate.yaml": `${sshd}: /usr/sbin/sshd -t -f %s\n`,
    "h1/files/etc/ssh/sshd_config": "Port 2222\n",
  });
  const entry = b.files.find((f) => f.path === sshd);
  assert.equal(entry?.validate, "/usr/sbin/sshd -t -f %s");
  assert.equal(b.content.get(sshd)?.toString(), "Port 2222\n", "content from h1");
  assert.equal(b.files.find((f) => f.path === "/etc/ssh")?.validate, undefined);
});

test("the higher group's validate command wins; unordered groups with different ones conflict", () => {
  const tree = {
    "hosts.yaml": "- name: h1\n",
    "groups.yaml": "a:\n  - h1\nb:\n  - h1\n",
    "a/files/etc/ssh/sshd_config": "Port 22\n",
    "a/validate.yaml": `${sshd}: sshd -t -f %s\n`,
    "b/files/etc/ssh/sshd_config": "Port 22\n",
    "b/validate.yaml": `${sshd}: /usr/sbin/sshd -t -f %s\n`,
  };
  assert.match(
    buildError(tree).message,
    /conflict: groups "a" and "b" both set a validate command for "\/etc\/ssh\/sshd_config"/,
  );
  const ordered = build({ ...tree, "config.yaml": "group_order: [b, a]\n" });
  assert.equal(ordered.files.find((f) => f.path === sshd)?.validate, "sshd -t -f %s");
});

test("a validate command on a path that a higher group makes a directory is an error, not dropped", () => {
  const err = buildError({
    "hosts.yaml": "- name: h1\n",
    "all/files/etc/app.conf": "x\n",
    "all/validate.yaml": "/etc/app.conf: check %s\n",
    "h1/files/etc/app.conf/part": "y\n",
  });
  assert.match(
    err.message,
    /"\/etc\/app.conf" has a validate command, but group "h1" makes it a directory/,
  );
});
