import { execFileSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import { localWarnings } from "../../src/config/group-dir.ts";
import { loadConfig } from "../../src/config/load.ts";
import { cases } from "./cases.ts";
import { configDir, under, type Tree } from "../helpers/tree.ts";

/** Loads `tree` expecting a ConfigError; returns its problems. */
function problemsOf(tree: Tree) {
  const dir = configDir(tree);
  try {
    loadConfig(dir);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

for (const c of cases) {
  test(`load error: ${c.name}`, () => {
    const problems = problemsOf(c.tree);
    const match = problems.find(
      (p) =>
        p.code === c.code &&
        p.pos?.file === c.file &&
        (c.line === undefined || p.pos.line === c.line) &&
        (c.col === undefined || p.pos.col === c.col) &&
        p.message.includes(c.phrase),
    );
    assert.ok(
      match,
      `no ${c.code} problem at ${c.file}:${c.line ?? ""} with "${c.phrase}" in ${JSON.stringify(problems)}`,
    );
  });
}

test("load error: hosts.yaml is required", () => {
  const dir = configDir({});
  execFileSync("rm", [path.join(dir, "hosts.yaml")]);
  assert.throws(
    () => loadConfig(dir),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 1);
      assert.equal(err.problems[0]?.code, "not-found");
      assert.equal(
        err.problems[0]?.message,
        `no hosts.yaml in ${dir}: safcm works on a configuration directory with a hosts.yaml (run it there, or name the directory with -C DIR)`,
      );
      return true;
    },
  );
});

test("load error: a FIFO in files/ is not supported", () => {
  const dir = configDir({ "all/files": { dir: true } });
  execFileSync("mkfifo", ["-m", "0644", path.join(dir, "all/files/fifo")]);
  assert.throws(
    () => loadConfig(dir),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems[0]?.pos?.file, "all/files/fifo");
      assert.equal(err.problems[0]?.code, "wrong-file-type");
      assert.match(err.problems[0]?.message ?? "", /unsupported file type/);
      return true;
    },
  );
});

test("load collects several problems from several files", () => {
  const problems = problemsOf({
    "config.yaml": "colour: yes\n",
    "hosts.yaml": "- name: web1\n  nodes: x\n",
    "all/packages.yaml": "- -x\n",
    "all/junk": "",
  });
  assert.deepEqual(
    problems.map((p) => [p.pos?.file, p.pos?.line]),
    [
      ["config.yaml", 1],
      ["hosts.yaml", 2],
      ["all/junk", undefined],
      ["all/packages.yaml", 1],
    ],
  );
});

test("load reads a valid configuration", () => {
  const dir = configDir({
    "config.yaml":
      "dry_run: true\nlog_level: debug\ndetect_groups: [uname -s]\ndetect_vars: [echo a=1]\ngroup_order: [detected_linux, web]\nssh_config: ssh_config\nssh_user: ops\nsudo: true\nruntime: host\nssh_persist: 0\nignore: ['*.bak']\n",
    "hosts.yaml":
      "- name: web1.example.org\n  ssh_user: admin\n- name: image\n  connection: local\n  root: images/x\n  node: /usr/bin/nodejs\n  sudo: false\n  runtime: bundled\n",
    "groups.yaml": "web:\n  - web1.example.org\n",
    ssh_config: "Host *\n",
    "README.md": "ignored\n",
    ".git/x": { content: "", mode: 0o666 },
    "web/files/etc/motd": "hi\n",
    "web/files/etc/motd.link": { symlink: "motd" },
    "web/files/usr/bin/tool": { content: "#!/bin/sh\n", mode: 0o750 },
    "web/packages.yaml": "- nginx\n- libc6:amd64\n",
    "web/services.yaml": "- nginx.service\n- getty@tty1\n",
    "web/commands.yaml": "- echo done\n",
    "web/triggers.yaml": "/etc:\n  - systemctl reload nginx\n",
    "web1.example.org": { dir: true },
    detected_linux: { dir: true },
  });
  const config = loadConfig(dir);
  assert.equal(config.dir, dir);
  assert.deepEqual(config.global, {
    dry_run: true,
    log_level: "debug",
    detect_groups: ["uname -s"],
    detect_vars: ["echo a=1"],
    group_order: ["detected_linux", "web"],
    ssh_config: path.join(dir, "ssh_config"),
    ssh_user: "ops",
    sudo: true,
    runtime: "host",
    ssh_persist: 0,
    ignore: ["*.bak"],
  });
  assert.deepEqual(config.hosts, [
    {
      name: "web1.example.org",
      ssh_user: "admin",
      connection: "ssh",
      root: "/",
      node: "node",
      sudo: true,
      runtime: "host",
    },
    {
      name: "image",
      ssh_user: "ops",
      connection: "local",
      root: path.join(dir, "images/x"),
      node: "/usr/bin/nodejs",
      sudo: false,
      runtime: "bundled",
    },
  ]);
  assert.deepEqual([...config.groupDirs.keys()], ["detected_linux", "web", "web1.example.org"]);
  const web = config.groupDirs.get("web");
  assert.ok(web);
  assert.deepEqual(
    [...web.files.values()].map((e) => [e.path, e.type, e.mode.toString(8), e.content.toString()]),
    [
      ["/", "dir", "755", ""],
      ["/etc", "dir", "755", ""],
      ["/etc/motd", "file", "644", "hi\n"],
      ["/etc/motd.link", "symlink", "777", "motd"],
      ["/usr", "dir", "755", ""],
      ["/usr/bin", "dir", "755", ""],
      ["/usr/bin/tool", "file", "755", "#!/bin/sh\n"],
    ],
  );
  assert.equal(web.files.get("/etc/motd.link")?.target, "motd");
  assert.deepEqual(web.packages, [
    { name: "nginx", state: "present", recommends: false },
    { name: "libc6:amd64", state: "present", recommends: false },
  ]);
  assert.deepEqual(web.services, [
    { name: "nginx.service", state: "started", enabled: null },
    { name: "getty@tty1", state: "started", enabled: null },
  ]);
  assert.deepEqual(web.commands, [{ run: "echo done" }]);
  assert.deepEqual([...web.triggers], [["/etc", ["systemctl reload nginx"]]]);
  assert.deepEqual(config.knownGroups, [
    "all",
    "detected_linux",
    "image",
    "web",
    "web1.example.org",
  ]);
});

test("load: empty hosts.yaml and empty YAML files are fine", () => {
  const config = loadConfig(
    configDir({ "hosts.yaml": "", "config.yaml": "", "groups.yaml": "", "all/commands.yaml": "" }),
  );
  assert.deepEqual(config.hosts, []);
  assert.deepEqual(config.global.group_order, []);
});

// The mode is read from the scalar's source text: YAML alone would read
// unquoted 0640 and 1777 as decimal numbers.
const modes: [string, number][] = [
  ["0640", 0o640],
  ["640", 0o640],
  ['"0640"', 0o640],
  ["'640'", 0o640],
  ["1777", 0o1777],
  ["4755", 0o4755],
  ["0755 root shadow", 0o755],
  ["2775 1000 50", 0o2775],
];
test("permissions.yaml: modes in every YAML spelling", () => {
  const entries = modes.map(([text], i) => `/f${i}: ${text}`).join("\n");
  const files = Object.fromEntries(modes.map((_, i) => [`f${i}`, "x"]));
  const config = loadConfig(
    configDir({ ...under("all/files", files), "all/permissions.yaml": entries + "\n" }),
  );
  const perms = config.groupDirs.get("all")?.permissions;
  assert.ok(perms);
  assert.deepEqual(
    modes.map((_, i) => perms.get(`/f${i}`)?.mode),
    modes.map(([, mode]) => mode),
  );
  assert.deepEqual(perms.get("/f6"), { mode: 0o755, user: "root", group: "shadow" });
  assert.deepEqual(perms.get("/f7"), { mode: 0o2775, user: 1000, group: 50 });
  assert.deepEqual(perms.get("/f0"), { mode: 0o640, user: null, group: null });
});

test("files/: special bits of local files are ignored, symlinks are not followed", () => {
  const config = loadConfig(
    configDir({
      "all/files/tool": { content: "x", mode: 0o4755 },
      "all/files/dangling": { symlink: "/nonexistent/target" },
    }),
  );
  const files = config.groupDirs.get("all")?.files;
  assert.equal(files?.get("/tool")?.mode, 0o755);
  assert.equal(files?.get("/dangling")?.target, "/nonexistent/target");
  assert.equal(files?.get("/dangling")?.mode, 0o777);
});

test("files/: the deployed mode ignores the checkout's group and other bits (SPEC 3.5)", () => {
  const config = loadConfig(
    configDir({
      "all/files": { dir: true, mode: 0o700 },
      "all/files/etc": { dir: true, mode: 0o700 },
      "all/files/etc/private": { content: "p", mode: 0o600 },
      "all/files/etc/tool": { content: "t", mode: 0o700 },
      "all/files/etc/r": { content: "r", mode: 0o400 },
      "all/files/open": { content: "o", mode: 0o644 },
      "all/files/x": { content: "x", mode: 0o744 },
      "all/files/shadow": { content: "s", mode: 0o600 },
      "all/files/run": { dir: true, mode: 0o711 },
      "all/permissions.yaml": "/shadow: 0640\n",
    }),
  );
  const all = config.groupDirs.get("all");
  assert.ok(all);
  const modes = Object.fromEntries(
    [...all.files.values()].map((e) => [e.path, e.mode.toString(8)]),
  );
  assert.deepEqual(modes, {
    "/": "755",
    "/etc": "755",
    "/etc/private": "644",
    "/etc/r": "644",
    "/etc/tool": "755",
    "/open": "644",
    "/run": "755",
    "/shadow": "644",
    "/x": "755",
  });
  // Private locally and not in permissions.yaml: warned about (/shadow is declared).
  assert.deepEqual(all.unprotected, [
    "all/files",
    "all/files/etc",
    "all/files/etc/private",
    "all/files/etc/r",
    "all/files/etc/tool",
    "all/files/run",
  ]);
  const warnings = localWarnings(config.groupDirs.values());
  assert.equal(warnings.length, 1, "many private entries are summarised in one warning");
  assert.match(
    warnings[0],
    /^"all\/files", "all\/files\/etc", "all\/files\/etc\/private" and 3 more are not readable by others .*deployed readable by everyone.*permissions\.yaml/,
  );
  const one = configDir({ "all/files/key": { content: "k", mode: 0o600 } });
  assert.deepEqual(localWarnings(loadConfig(one).groupDirs.values()), [
    `"all/files/key" is not readable by others in the checkout but will be deployed readable by everyone (0644 or 0755); if it holds a secret, declare its mode in permissions.yaml`,
  ]);
  const none = configDir({ "all/files/etc/motd": "hi\n" });
  assert.deepEqual(localWarnings(loadConfig(none).groupDirs.values()), []);
});

test("ignore: editor backups and .gitkeep are not part of files/, an ignored directory takes its subtree", () => {
  const tree: Tree = {
    "all/files/etc/motd": "hi\n",
    "all/files/etc/motd~": "old\n",
    "all/files/etc/.motd.swp": "x",
    "all/files/etc/#motd#": "x",
    "all/files/etc/.#motd": "x",
    "all/files/srv/.gitkeep": "",
    "all/files/.DS_Store": "x",
    "all/vars.yaml~": "not: [yaml\n",
  };
  const paths = (config: ReturnType<typeof loadConfig>) => [
    ...(config.groupDirs.get("all")?.files.keys() ?? []),
  ];
  assert.deepEqual(paths(loadConfig(configDir(tree))), ["/", "/etc", "/etc/motd", "/srv"]);
  const own = loadConfig(configDir({ ...tree, "config.yaml": "ignore: [etc, '*~']\n" }));
  assert.deepEqual(paths(own), ["/", "/.DS_Store", "/srv", "/srv/.gitkeep"]);
  // A pattern never hides files/ or a group's own YAML files.
  const yaml = loadConfig(
    configDir({
      "config.yaml": "ignore: ['*.yaml', 'files']\n",
      "all/files/a.yaml": "x",
      "all/commands.yaml": "- echo\n",
    }),
  );
  assert.deepEqual(paths(yaml), ["/"]);
  assert.deepEqual(yaml.groupDirs.get("all")?.commands, [{ run: "echo" }]);
  // [] turns ignoring off: every entry is configuration again (the backup of vars.yaml too).
  assert.throws(
    () => loadConfig(configDir({ ...tree, "config.yaml": "ignore: []\n" })),
    /unknown entry "vars.yaml~"/,
  );
  const files = { "files/etc/motd~": "old\n", "files/.gitkeep": "" };
  const none = loadConfig(configDir({ ...under("all", files), "config.yaml": "ignore: []\n" }));
  assert.deepEqual(paths(none), ["/", "/.gitkeep", "/etc", "/etc/motd~"]);
});

test("load error: lists and mappings nested too deep, in the text or through aliases, are a problem of the file, never a crash", () => {
  const flowMaps = (n: number) => `v: ${"{a: ".repeat(n)}x${"}".repeat(n)}\n`;
  const flowSeqs = (n: number) => `v: ${"[".repeat(n)}x${"]".repeat(n)}\n`;
  const blockMaps = (n: number) =>
    Array.from({ length: n }, (_, i) => `${"  ".repeat(i)}k${i}:`).join("\n") + " x\n";
  // Each anchor holds the one before: little nesting in the text, any depth once expanded.
  const aliasChain = (n: number) =>
    ["a0: &a0 [x]", ...Array.from({ length: n }, (_, i) => `a${i + 1}: &a${i + 1} [*a${i}]`)].join(
      "\n",
    ) + "\n";
  // 100 levels are fine ("v:" is one more in flowMaps and flowSeqs, and the top mapping one).
  for (const text of [flowMaps(98), flowSeqs(98), blockMaps(99), aliasChain(98)]) {
    loadConfig(configDir({ "all/vars.yaml": text }));
  }
  const tooDeep = [
    ...[101, 1_000, 1_006, 2_000, 10_000].flatMap((n) => [flowMaps(n), flowSeqs(n)]),
    blockMaps(101),
    blockMaps(3_000),
    aliasChain(101),
    aliasChain(1_000),
  ];
  for (const text of tooDeep) {
    const problems = problemsOf({ "all/vars.yaml": text });
    assert.ok(
      problems.some(
        (p) =>
          p.code === "too-large" &&
          p.pos?.file === "all/vars.yaml" &&
          p.pos.line !== undefined &&
          /nested more than 100 levels deep/.test(p.message),
      ),
      `${text.slice(0, 40)}...: ${JSON.stringify(problems).slice(0, 500)}`,
    );
  }
});

test("commands.yaml mappings with a guard, and validate.yaml (SPEC 3.5)", () => {
  const dir = configDir({
    "all/files/etc/ssh/sshd_config": "Port 22\n",
    "all/commands.yaml": [
      "- systemctl daemon-reload",
      "- run: /usr/local/sbin/init-db",
      "  creates: /var/lib/app/db",
      "- run: update-alternatives --set editor /usr/bin/vim.basic",
      '  unless: test "$(readlink /etc/alternatives/editor)" = /usr/bin/vim.basic',
      "- run: echo plain",
      "",
    ].join("\n"),
    "all/validate.yaml": "/etc/ssh/sshd_config: /usr/sbin/sshd -t -f %s\n",
  });
  const all = loadConfig(dir).groupDirs.get("all");
  assert.deepEqual(all?.commands, [
    { run: "systemctl daemon-reload" },
    { run: "/usr/local/sbin/init-db", creates: "/var/lib/app/db" },
    {
      run: "update-alternatives --set editor /usr/bin/vim.basic",
      unless: 'test "$(readlink /etc/alternatives/editor)" = /usr/bin/vim.basic',
    },
    { run: "echo plain" },
  ]);
  assert.deepEqual(
    [...(all?.validate ?? [])],
    [["/etc/ssh/sshd_config", "/usr/sbin/sshd -t -f %s"]],
  );
});
