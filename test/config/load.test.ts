import { execFileSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import { localWarnings } from "../../src/config/group-dir.ts";
import { loadConfig } from "../../src/config/load.ts";
import { configDir, dir, file, link } from "./tree.ts";
import type { Tree } from "./tree.ts";

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

interface Case {
  name: string;
  tree: Tree;
  file: string;
  line?: number;
  col?: number;
  phrase: string;
}

const hosts2 = "- name: web1\n- name: db1\n";

// Each configuration mistake of SPEC 3.1 - 3.6 with where it is reported.
const cases: Case[] = [
  // 3.1 config.yaml
  {
    name: "config.yaml: unknown key",
    tree: { "config.yaml": "dry_run: true\nlog_levl: debug\n" },
    file: "config.yaml",
    line: 2,
    col: 1,
    phrase: 'unknown key "log_levl"',
  },
  {
    name: "config.yaml: bad log_level",
    tree: { "config.yaml": "log_level: loud\n" },
    file: "config.yaml",
    line: 1,
    col: 12,
    phrase: 'invalid log_level "loud"',
  },
  {
    name: "config.yaml: dry_run not a bool",
    tree: { "config.yaml": "dry_run: yes\n" },
    file: "config.yaml",
    line: 1,
    phrase: "true or false",
  },
  {
    name: "config.yaml: detect_groups not a list",
    tree: { "config.yaml": "\ndetect_groups: uname -s\n" },
    file: "config.yaml",
    line: 2,
    phrase: "must be a list",
  },
  {
    name: "config.yaml: group_order names an unknown group",
    tree: { "config.yaml": "group_order:\n  - detected_x\n  - webservers\n" },
    file: "config.yaml",
    line: 3,
    phrase: 'unknown group "webservers"',
  },
  {
    name: "config.yaml: missing ssh_config",
    tree: { "config.yaml": "ssh_config: ssh/config\n" },
    file: "config.yaml",
    line: 1,
    phrase: 'ssh_config "ssh/config" is not a file',
  },
  {
    name: "config.yaml: syntax error",
    tree: { "config.yaml": "dry_run: true\ngroup_order: [a, b\n" },
    file: "config.yaml",
    line: 3,
    phrase: "",
  },
  {
    name: "config.yaml: duplicate key",
    tree: { "config.yaml": "dry_run: true\ndry_run: false\n" },
    file: "config.yaml",
    line: 2,
    phrase: "unique",
  },
  // 3.2 hosts.yaml
  {
    name: "hosts.yaml: unknown key",
    tree: { "hosts.yaml": "- name: web1\n  sshuser: admin\n" },
    file: "hosts.yaml",
    line: 2,
    col: 3,
    phrase: 'unknown key "sshuser"',
  },
  {
    name: "hosts.yaml: upper-case host name",
    tree: { "hosts.yaml": "- name: web1\n- name: Web2\n" },
    file: "hosts.yaml",
    line: 2,
    col: 9,
    phrase: 'invalid host name "Web2"',
  },
  {
    name: "hosts.yaml: host name starting with -",
    tree: { "hosts.yaml": '- name: "-oproxy"\n' },
    file: "hosts.yaml",
    line: 1,
    phrase: 'must not start with "-"',
  },
  {
    name: "hosts.yaml: duplicate host",
    tree: { "hosts.yaml": "- name: web1\n- name: db1\n- name: web1\n" },
    file: "hosts.yaml",
    line: 3,
    phrase: 'duplicate host "web1"',
  },
  {
    name: "config.yaml: ssh_persist negative",
    tree: { "config.yaml": "ssh_persist: -1\n" },
    file: "config.yaml",
    line: 1,
    col: 14,
    phrase: "ssh_persist must be a whole number from 0 to 604800",
  },
  {
    name: "config.yaml: sudo not a boolean",
    tree: { "config.yaml": "sudo: yes please\n" },
    file: "config.yaml",
    line: 1,
    phrase: "sudo must be true or false",
  },
  {
    name: "hosts.yaml: bad runtime",
    tree: { "hosts.yaml": "- name: web1\n  runtime: docker\n" },
    file: "hosts.yaml",
    line: 2,
    phrase: 'invalid runtime "docker" (use auto, host, bundled)',
  },
  {
    name: "hosts.yaml: bad connection",
    tree: { "hosts.yaml": "- name: web1\n  connection: telnet\n" },
    file: "hosts.yaml",
    line: 2,
    phrase: 'invalid connection "telnet"',
  },
  {
    name: "hosts.yaml: host without name",
    tree: { "hosts.yaml": "- name: web1\n- ssh_user: x\n" },
    file: "hosts.yaml",
    line: 2,
    phrase: 'needs a "name"',
  },
  {
    name: "hosts.yaml: not a list",
    tree: { "hosts.yaml": "web1: {}\n" },
    file: "hosts.yaml",
    line: 1,
    phrase: "must be a list",
  },
  // 3.3 groups.yaml
  {
    name: "groups.yaml: invalid group name",
    tree: { "hosts.yaml": hosts2, "groups.yaml": "web.servers:\n  - web1\n" },
    file: "groups.yaml",
    line: 1,
    phrase: 'invalid group name "web.servers"',
  },
  {
    name: "groups.yaml: group all",
    tree: { "hosts.yaml": hosts2, "groups.yaml": "x:\n  - web1\nall:\n  - db1\n" },
    file: "groups.yaml",
    line: 3,
    phrase: 'invalid group name "all"',
  },
  {
    name: "groups.yaml: group named detected_",
    tree: { "hosts.yaml": hosts2, "groups.yaml": "detected_debian:\n  - web1\n" },
    file: "groups.yaml",
    line: 1,
    phrase: "reserved for detected groups",
  },
  {
    name: "groups.yaml: group named like a host",
    tree: { "hosts.yaml": hosts2, "groups.yaml": "db1:\n  - web1\n" },
    file: "groups.yaml",
    line: 1,
    phrase: "name of a host",
  },
  {
    name: "groups.yaml: _remove for a missing group",
    tree: { "hosts.yaml": hosts2, "groups.yaml": "web:\n  - web1\nweb2_remove:\n  - web1\n" },
    file: "groups.yaml",
    line: 3,
    phrase: '"web2", which is not defined',
  },
  {
    name: "groups.yaml: unknown member",
    tree: { "hosts.yaml": hosts2, "groups.yaml": "web:\n  - web1\n  - web3\n" },
    file: "groups.yaml",
    line: 3,
    col: 5,
    phrase: 'unknown member "web3" of group "web"',
  },
  {
    name: "groups.yaml: cycle",
    tree: {
      "hosts.yaml": hosts2,
      "groups.yaml": "a:\n  - b\nb:\n  - c\nc:\n  - a\n  - web1\n",
    },
    file: "groups.yaml",
    line: 1,
    phrase: "cycle in groups: a -> b -> c -> a",
  },
  {
    name: "groups.yaml: group containing itself",
    tree: { "hosts.yaml": hosts2, "groups.yaml": "a:\n  - web1\n  - a\n" },
    file: "groups.yaml",
    line: 1,
    phrase: "cycle in groups: a -> a",
  },
  {
    name: "groups.yaml: members not a list",
    tree: { "hosts.yaml": hosts2, "groups.yaml": "a: web1\n" },
    file: "groups.yaml",
    line: 1,
    phrase: "must be a list",
  },
  // top-level directories and group directories (3, 3.5)
  {
    name: "directory named like nothing",
    tree: { "hosts.yaml": hosts2, "groups.yaml": "webservers: [web1]\n", webserverz: {} },
    file: "webserverz",
    phrase: "probably a typo",
  },
  {
    name: "unknown entry in a group directory",
    tree: { all: { "packages.yml": "- htop\n" } },
    file: "all/packages.yml",
    phrase: 'unknown entry "packages.yml"',
  },
  {
    name: "permissions.yaml: path not in files/",
    tree: {
      all: {
        files: { etc: { motd: "hi\n" } },
        "permissions.yaml": "/etc/motd: 0600\n/etc/shadow: 0640 root shadow\n",
      },
    },
    file: "all/permissions.yaml",
    line: 2,
    col: 1,
    phrase: '"/etc/shadow" does not exist in all/files/',
  },
  {
    name: "permissions.yaml: relative path",
    tree: { all: { files: { etc: {} }, "permissions.yaml": "etc: 0755\n" } },
    file: "all/permissions.yaml",
    line: 1,
    phrase: "must be absolute",
  },
  {
    name: "permissions.yaml: trailing slash",
    tree: { all: { files: { etc: {} }, "permissions.yaml": "/etc/: 0755\n" } },
    file: "all/permissions.yaml",
    line: 1,
    phrase: 'write "/etc"',
  },
  {
    name: "permissions.yaml: not octal",
    tree: { all: { files: { etc: {} }, "permissions.yaml": "/etc: 0758\n" } },
    file: "all/permissions.yaml",
    line: 1,
    col: 7,
    phrase: 'invalid mode "0758"',
  },
  {
    name: "permissions.yaml: five digits",
    tree: { all: { files: { etc: {} }, "permissions.yaml": "/etc: 10755\n" } },
    file: "all/permissions.yaml",
    line: 1,
    phrase: 'invalid mode "10755"',
  },
  {
    name: "permissions.yaml: user without group",
    tree: { all: { files: { etc: {} }, "permissions.yaml": "/etc: 0755 root\n" } },
    file: "all/permissions.yaml",
    line: 1,
    phrase: "<mode> <user> <group>",
  },
  {
    name: "permissions.yaml: not a mapping",
    tree: { all: { files: { etc: {} }, "permissions.yaml": "- /etc\n" } },
    file: "all/permissions.yaml",
    line: 1,
    phrase: "must be a mapping",
  },
  {
    name: "templates.yaml: path not in files/",
    tree: { all: { files: { etc: {} }, "templates.yaml": "- /etc\n- /etc/motd\n" } },
    file: "all/templates.yaml",
    line: 1,
    phrase: "not a regular file",
  },
  {
    name: "templates.yaml: missing path",
    tree: { all: { files: { etc: {} }, "templates.yaml": "\n- /etc/motd\n" } },
    file: "all/templates.yaml",
    line: 2,
    phrase: '"/etc/motd" does not exist in all/files/',
  },
  {
    name: "triggers.yaml: path not in files/",
    tree: {
      "hosts.yaml": hosts2,
      web1: { files: { etc: {} }, "triggers.yaml": "/etc:\n  - true\n/etc/nginx:\n  - x\n" },
    },
    file: "web1/triggers.yaml",
    line: 2,
    phrase: "must be a string",
  },
  {
    name: "triggers.yaml: missing path",
    tree: {
      "hosts.yaml": hosts2,
      web1: { files: { etc: {} }, "triggers.yaml": "/etc:\n  - x\n/etc/nginx:\n  - x\n" },
    },
    file: "web1/triggers.yaml",
    line: 3,
    phrase: '"/etc/nginx" does not exist in web1/files/',
  },
  {
    name: "template syntax error",
    tree: {
      all: {
        files: { etc: { motd: "Hello\n\n{% if groups.x %}\nno endif\n", issue: "x" } },
        "templates.yaml": "- /etc/issue\n- /etc/motd\n",
      },
    },
    file: "all/files/etc/motd",
    line: 3,
    phrase: 'template error in group "all"',
  },
  {
    name: "template with an unknown filter",
    tree: {
      all: { files: { motd: "{{ host | upcas }}\n" }, "templates.yaml": "- /motd\n" },
    },
    file: "all/files/motd",
    line: 1,
    phrase: "upcas",
  },
  {
    name: "group-writable local file",
    tree: { all: { files: { etc: { motd: file("hi\n", 0o664) } } } },
    file: "all/files/etc/motd",
    phrase: "safcm fixperms",
  },
  {
    name: "world-writable local directory",
    tree: { all: { files: { tmp: dir({ ".keep": "" }, 0o757) } } },
    file: "all/files/tmp",
    phrase: "writable by group or others (mode 0757)",
  },
  {
    name: "packages.yaml: name with whitespace",
    tree: { all: { "packages.yaml": "- htop\n- vim nano\n" } },
    file: "all/packages.yaml",
    line: 2,
    col: 3,
    phrase: 'invalid package name "vim nano"',
  },
  {
    name: "packages.yaml: upper case or a version is not a Debian package name",
    tree: { all: { "packages.yaml": "- htop\n- nginx=1.22\n" } },
    file: "all/packages.yaml",
    line: 2,
    col: 3,
    phrase: 'invalid package name "nginx=1.22": a Debian package name is lower case letters',
  },
  {
    name: "services.yaml: name starting with -",
    tree: { all: { "services.yaml": '- "--now"\n' } },
    file: "all/services.yaml",
    line: 1,
    phrase: 'invalid service name "--now"',
  },
  {
    name: "commands.yaml: not a list",
    tree: { all: { "commands.yaml": "run: this\n" } },
    file: "all/commands.yaml",
    line: 1,
    phrase: "must be a list",
  },
  {
    name: "files is not a directory",
    tree: { all: { files: "x" } },
    file: "all/files",
    phrase: "must be a directory",
  },
];

for (const c of cases) {
  test(`load error: ${c.name}`, () => {
    const problems = problemsOf(c.tree);
    const match = problems.find(
      (p) =>
        p.pos?.file === c.file &&
        (c.line === undefined || p.pos.line === c.line) &&
        (c.col === undefined || p.pos.col === c.col) &&
        p.message.includes(c.phrase),
    );
    assert.ok(
      match,
      `no problem at ${c.file}:${c.line ?? ""} with "${c.phrase}" in ${JSON.stringify(problems)}`,
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
      assert.equal(err.problems[0]?.pos?.file, "hosts.yaml");
      assert.match(err.problems[0]?.message ?? "", /missing/);
      return true;
    },
  );
});

test("load error: a FIFO in files/ is not supported", () => {
  const dir = configDir({ all: { files: {} } });
  execFileSync("mkfifo", ["-m", "0644", path.join(dir, "all/files/fifo")]);
  assert.throws(
    () => loadConfig(dir),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems[0]?.pos?.file, "all/files/fifo");
      assert.match(err.problems[0]?.message ?? "", /unsupported file type/);
      return true;
    },
  );
});

test("load collects several problems from several files", () => {
  const problems = problemsOf({
    "config.yaml": "colour: yes\n",
    "hosts.yaml": "- name: web1\n  nodes: x\n",
    all: { "packages.yaml": "- -x\n", junk: "" },
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
      "dry_run: true\nlog_level: debug\ndetect_groups: [uname -s]\ngroup_order: [detected_linux, web]\nssh_config: ssh_config\nssh_user: ops\nsudo: true\nruntime: host\nssh_persist: 0\n",
    "hosts.yaml":
      "- name: web1.example.org\n  ssh_user: admin\n- name: image\n  connection: local\n  root: images/x\n  node: /usr/bin/nodejs\n  sudo: false\n  runtime: bundled\n",
    "groups.yaml": "web:\n  - web1.example.org\n",
    ssh_config: "Host *\n",
    "README.md": "ignored\n",
    ".git": { x: file("", 0o666) },
    web: {
      files: {
        etc: { motd: "hi\n", "motd.link": link("motd") },
        usr: { bin: { tool: file("#!/bin/sh\n", 0o750) } },
      },
      "packages.yaml": "- nginx\n- libc6:amd64\n",
      "services.yaml": "- nginx.service\n- getty@tty1\n",
      "commands.yaml": "- echo done\n",
      "triggers.yaml": "/etc:\n  - systemctl reload nginx\n",
    },
    "web1.example.org": {},
    detected_linux: {},
  });
  const config = loadConfig(dir);
  assert.equal(config.dir, dir);
  assert.deepEqual(config.global, {
    dry_run: true,
    log_level: "debug",
    detect_groups: ["uname -s"],
    group_order: ["detected_linux", "web"],
    ssh_config: path.join(dir, "ssh_config"),
    ssh_user: "ops",
    sudo: true,
    runtime: "host",
    ssh_persist: 0,
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
  assert.deepEqual(web.packages, ["nginx", "libc6:amd64"]);
  assert.deepEqual(web.services, ["nginx.service", "getty@tty1"]);
  assert.deepEqual(web.commands, ["echo done"]);
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
    configDir({
      "hosts.yaml": "",
      "config.yaml": "",
      "groups.yaml": "",
      all: { "commands.yaml": "" },
    }),
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
  const config = loadConfig(configDir({ all: { files, "permissions.yaml": entries + "\n" } }));
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
      all: { files: { tool: file("x", 0o4755), dangling: link("/nonexistent/target") } },
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
      all: {
        files: dir(
          {
            etc: dir(
              { private: file("p", 0o600), tool: file("t", 0o700), r: file("r", 0o400) },
              0o700,
            ),
            open: file("o", 0o644),
            x: file("x", 0o744),
            shadow: file("s", 0o600),
            run: dir({}, 0o711),
          },
          0o700,
        ),
        "permissions.yaml": "/shadow: 0640\n",
      },
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
  const one = configDir({ all: { files: { key: file("k", 0o600) } } });
  assert.deepEqual(localWarnings(loadConfig(one).groupDirs.values()), [
    `"all/files/key" is not readable by others in the checkout but will be deployed readable by everyone (0644 or 0755); if it holds a secret, declare its mode in permissions.yaml`,
  ]);
  const none = configDir({ all: { files: { etc: { motd: "hi\n" } } } });
  assert.deepEqual(localWarnings(loadConfig(none).groupDirs.values()), []);
});
