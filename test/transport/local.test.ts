import assert from "node:assert/strict";
import { test } from "node:test";
import { helperEnvironment } from "../../src/transport/local.ts";

const root = { username: "root", homedir: "/root", shell: "/bin/bash" };

test("the local helper's environment is a login's, never the workstation's", () => {
  const workstation = {
    PATH: "/opt/node/bin:/usr/bin:/bin",
    HOME: "/home/alice",
    USER: "alice",
    LANG: "de_DE.UTF-8",
    LC_ALL: "C.UTF-8",
    LC_MESSAGES: "C",
    LANGUAGE: "de",
    DB_PASSWORD: "secret",
    SSH_AUTH_SOCK: "/tmp/ssh-agent",
    NODE_OPTIONS: "--require /tmp/x.js",
    AWS_SECRET_ACCESS_KEY: "key",
  };
  assert.deepEqual(helperEnvironment(workstation, root), {
    PATH: "/opt/node/bin:/usr/bin:/bin",
    HOME: "/root",
    USER: "root",
    LOGNAME: "root",
    SHELL: "/bin/bash",
    LANG: "de_DE.UTF-8",
    LANGUAGE: "de",
    LC_ALL: "C.UTF-8",
    LC_MESSAGES: "C",
  });
});

test("without PATH or a login shell the defaults of a login stand in", () => {
  assert.deepEqual(helperEnvironment({}, { username: "u", homedir: "/home/u", shell: null }), {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: "/home/u",
    USER: "u",
    LOGNAME: "u",
    SHELL: "/bin/sh",
  });
});
