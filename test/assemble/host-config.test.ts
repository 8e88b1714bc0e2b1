import { createHash } from "node:crypto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/load.ts";
import { buildHost } from "../../src/assemble/host-config.ts";
import type { BuiltHost } from "../../src/assemble/host-config.ts";
import { configDir, under, type Tree } from "../helpers/tree.ts";
import { build, buildError, facts } from "./build.ts";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const content = (b: BuiltHost, path: string) => b.content.get(path)?.toString();
const names = (entries: { name: string }[]) => entries.map((e) => e.name);

test("buildHost: entries with size and SHA-256 of the content, owners and modes", () => {
  const b = build({
    "hosts.yaml": "- name: h1\n- name: h2\n",
    "groups.yaml": "web:\n  - h1\nother:\n  - h2\n",
    "all/files/etc/motd": "all\n",
    "all/files/tmp": { dir: true },
    "all/permissions.yaml": "/tmp: 1777\n/etc/motd: 0640 root 42\n",
    "all/packages.yaml": "- htop\n- vim\n",
    "web/files/etc/nginx/nginx.conf": "conf\n",
    "web/files/etc/motd.link": { symlink: "motd" },
    "web/packages.yaml": "- nginx\n- htop\n",
    "web/services.yaml": "- nginx\n",
    "web/triggers.yaml": "/etc/nginx:\n  - systemctl reload nginx\n",
    "other/files/secret": "other\n",
    "h1/files/empty": "",
  });
  assert.deepEqual(b.groups, ["all", "h1", "web"]);
  assert.deepEqual(b.files, [
    { path: "/", type: "dir", mode: 0o755, user: 1000, group: 100, keep: true },
    {
      path: "/empty",
      type: "file",
      mode: 0o644,
      user: 1000,
      group: 100,
      size: 0,
      sha256: sha256(""),
    },
    { path: "/etc", type: "dir", mode: 0o755, user: 1000, group: 100, keep: true },
    {
      path: "/etc/motd",
      type: "file",
      mode: 0o640,
      user: "root",
      group: 42,
      size: 4,
      sha256: sha256("all\n"),
    },
    {
      path: "/etc/motd.link",
      type: "symlink",
      mode: 0o777,
      user: 1000,
      group: 100,
      target: "motd",
    },
    { path: "/etc/nginx", type: "dir", mode: 0o755, user: 1000, group: 100, keep: true },
    {
      path: "/etc/nginx/nginx.conf",
      type: "file",
      mode: 0o644,
      user: 1000,
      group: 100,
      size: 5,
      sha256: sha256("conf\n"),
    },
    { path: "/tmp", type: "dir", mode: 0o1777, user: 1000, group: 100 },
  ]);
  assert.equal(content(b, "/etc/motd"), "all\n");
  assert.equal(content(b, "/etc/motd.link"), "motd");
  assert.equal(b.content.has("/etc"), false);
  assert.deepEqual(names(b.packages), ["htop", "vim", "nginx"]);
  assert.deepEqual(names(b.services), ["nginx"]);
  assert.deepEqual(b.triggers, [{ path: "/etc/nginx", commands: ["systemctl reload nginx"] }]);
  assert.equal(content(b, "/secret"), undefined, "no data of another host's groups");
});

test("buildHost: detected groups are groups of the host, with their directories", () => {
  const tree: Tree = {
    "groups.yaml": "debian:\n  - detected_debian\n",
    "detected_debian/packages.yaml": "- apt-listchanges\n",
    "debian/packages.yaml": "- unattended-upgrades\n",
  };
  assert.deepEqual(build(tree).packages, []);
  const b = build(tree, "h1", { ...facts, detected: ["detected_debian", "detected_linux"] });
  assert.deepEqual(b.groups, ["all", "debian", "detected_debian", "detected_linux", "h1"]);
  assert.deepEqual(names(b.packages).sort(), ["apt-listchanges", "unattended-upgrades"]);
});

test("buildHost: commands in priority order, lowest first", () => {
  const b = build({
    "config.yaml": "group_order: [b]\n",
    "groups.yaml": "a: [h1]\nb: [h1]\nc: [h1]\n",
    "h1/commands.yaml": "- host\n",
    "b/commands.yaml": "- b\n",
    "a/commands.yaml": "- a1\n- a2\n",
    "c/commands.yaml": "- c\n",
    "all/commands.yaml": "- all\n",
  });
  assert.deepEqual(
    b.commands.map((c) => c.run),
    ["all", "a1", "a2", "c", "b", "host"],
  );
});

// SPEC 3.6: group dirs a, b (both containing h1) and all/h1 provide /etc/motd.
interface PriorityCase {
  name: string;
  order?: string[];
  /** group -> content of /etc/motd (or a Tree for the whole group dir) */
  dirs: Record<string, string | Tree>;
  detected?: string[];
  /** The content that wins, or an error's key phrases. */
  want: string | RegExp[];
}
const priorityCases: PriorityCase[] = [
  { name: "a group beats all", dirs: { all: "all", a: "a" }, want: "a" },
  {
    name: "the host's group beats everything",
    dirs: { all: "all", a: "a", h1: "h1" },
    order: ["a"],
    want: "h1",
  },
  { name: "group_order: later wins", dirs: { a: "a", b: "b" }, order: ["b", "a"], want: "a" },
  { name: "group_order: later wins (2)", dirs: { a: "a", b: "b" }, order: ["a", "b"], want: "b" },
  {
    name: "unordered groups conflict",
    dirs: { all: "all", a: "a", b: "b" },
    want: [/groups "a" and "b" set the content of "\/etc\/motd" differently/, /group_order/],
  },
  {
    name: "only one of the two in group_order is a conflict",
    dirs: { a: "a", b: "b" },
    order: ["a"],
    want: [/groups "a" and "b"/, /group_order/],
  },
  {
    name: "identical entries are no conflict",
    dirs: { all: "all", a: "same", b: "same" },
    want: "same",
  },
  {
    name: "a mode declared by one group only is no conflict (SPEC 3.6)",
    dirs: {
      a: "same",
      b: { "files/etc/motd": "same", "permissions.yaml": "/etc/motd: 0600\n" },
    },
    want: "same",
  },
  {
    name: "triggers of one group only are no conflict",
    dirs: {
      a: "same",
      b: { "files/etc/motd": "same", "triggers.yaml": "/etc/motd: [x]\n" },
    },
    want: "same",
  },
  {
    name: "different declared modes of unordered groups conflict",
    dirs: {
      a: { "files/etc/motd": "same", "permissions.yaml": "/etc/motd: 0640\n" },
      b: { "files/etc/motd": "same", "permissions.yaml": "/etc/motd: 0600\n" },
    },
    want: [
      /groups "a" and "b" set the mode of "\/etc\/motd" differently in permissions\.yaml/,
      /"a": 0640, "b": 0600/,
      /group_order/,
    ],
  },
  {
    name: "different declared owners of unordered groups conflict, even with other contents",
    dirs: {
      all: { "files/etc/motd": "all", "permissions.yaml": "/etc/motd: 0640 root adm\n" },
      a: { "files/etc/motd": "same", "permissions.yaml": "/etc/motd: 0640 root adm\n" },
      b: { "files/etc/motd": "same", "permissions.yaml": "/etc/motd: 0640 root 0\n" },
    },
    want: [
      /groups "a" and "b" set the owner of "\/etc\/motd" differently/,
      /"a": root adm, "b": root 0/,
    ],
  },
  {
    name: "a declared mode without owner is no owner conflict",
    dirs: {
      a: { "files/etc/motd": "same", "permissions.yaml": "/etc/motd: 0640\n" },
      b: { "files/etc/motd": "same", "permissions.yaml": "/etc/motd: 0640 root adm\n" },
    },
    want: "same",
  },
  {
    name: "the local executable bit conflicts where no permissions.yaml sets the mode",
    dirs: {
      a: { "files/etc/motd": { content: "same", mode: 0o755 } },
      b: { "files/etc/motd": { content: "same", mode: 0o644 } },
    },
    want: [/groups "a" and "b" set the mode of "\/etc\/motd" differently/, /executable bit/],
  },
  {
    name: "the local executable bit does not count where permissions.yaml sets the mode",
    dirs: {
      all: { "files/etc/motd": "all", "permissions.yaml": "/etc/motd: 0700\n" },
      a: { "files/etc/motd": { content: "same", mode: 0o755 } },
      b: { "files/etc/motd": { content: "same", mode: 0o644 } },
    },
    want: "same",
  },
  {
    name: "a template rendering to the same content is still a different entry",
    dirs: { a: "same", b: { "files/etc/motd": "same", "templates.yaml": "- /etc/motd\n" } },
    want: [/groups "a" and "b"/, /template/],
  },
  {
    name: "a symlink against a file conflicts",
    dirs: { a: "same", b: { "files/etc/motd": { symlink: "same" } } },
    want: [/groups "a" and "b"/, /type/],
  },
  {
    name: "detected groups are ordered by group_order too",
    dirs: { a: "a", detected_debian: "debian" },
    order: ["a", "detected_debian"],
    detected: ["detected_debian"],
    want: "debian",
  },
  {
    name: "detected groups without an order conflict",
    dirs: { a: "a", detected_debian: "debian" },
    detected: ["detected_debian"],
    want: [/groups "a" and "detected_debian"/],
  },
  {
    name: "a detected group that does not match is not used",
    dirs: { a: "a", detected_debian: "debian" },
    want: "a",
  },
  {
    name: "the host's group settles an unordered conflict",
    dirs: { a: "a", b: "b", h1: "h1" },
    want: "h1",
  },
  {
    name: "a higher group settles a conflict only if it is above both",
    dirs: { a: "a", b: "b", c: "c" },
    order: ["a", "c"],
    want: [/groups "b" and "c"/],
  },
  {
    name: "an unordered group identical to the winner is no conflict",
    dirs: { a: "a", b: "c", c: "c" },
    order: ["a", "c"],
    want: "c",
  },
];
for (const c of priorityCases) {
  test(`priority: ${c.name}`, () => {
    const tree: Tree = { "groups.yaml": "a: [h1]\nb: [h1]\nc: [h1]\n" };
    if (c.order) tree["config.yaml"] = `group_order: [${c.order.join(", ")}]\n`;
    for (const [group, dir] of Object.entries(c.dirs)) {
      Object.assign(
        tree,
        typeof dir === "string" ? { [`${group}/files/etc/motd`]: dir } : under(group, dir),
      );
    }
    const f = { ...facts, detected: c.detected ?? [] };
    if (typeof c.want === "string") {
      assert.equal(content(build(tree, "h1", f), "/etc/motd"), c.want);
    } else {
      const err = buildError(tree, f);
      for (const re of c.want) assert.match(err.message, re);
    }
  });
}

// Issue 19 item 1: all declares a directory's mode, owner and trigger; a higher group merely
// has a file below it. Before, the higher group's copy of the directory took every property.
test("properties resolve one by one: all's mode, owner and trigger survive a host group's file below the directory", () => {
  const b = build({
    "all/files/etc/repro-dir": { dir: true },
    "all/permissions.yaml": "/etc/repro-dir: 0750 root adm\n",
    "all/triggers.yaml": "/etc/repro-dir:\n  - touch /run/fired\n",
    "h1/files/etc/repro-dir/c.conf": "c\n",
  });
  const dir = b.files.find((f) => f.path === "/etc/repro-dir");
  assert.deepEqual(dir, {
    path: "/etc/repro-dir",
    type: "dir",
    mode: 0o750,
    user: "root",
    group: "adm",
  });
  assert.deepEqual(b.triggers, [{ path: "/etc/repro-dir", commands: ["touch /run/fired"] }]);
  assert.deepEqual(b.origins, [
    { path: "/etc/repro-dir", content: "h1", mode: "all", owner: "all", triggers: ["all"] },
  ]);
});

test("content from the highest group, mode and owner from the permissions.yaml that names the path", () => {
  const b = build({
    "config.yaml": "group_order: [a, b]\n",
    "groups.yaml": "a: [h1]\nb: [h1]\n",
    "all/files/etc/app.conf": "all\n",
    "all/permissions.yaml": "/etc/app.conf: 0600 app app\n",
    "a/files/etc/app.conf": "a\n",
    "a/permissions.yaml": "/etc/app.conf: 0640\n",
    "b/files/etc/app.conf": "b\n",
  });
  const file = b.files.find((f) => f.path === "/etc/app.conf");
  assert.equal(content(b, "/etc/app.conf"), "b\n");
  assert.equal(file?.mode, 0o640, "a's mode beats all's; b sets none");
  assert.equal(file?.user, "app", "only all sets the owner");
  assert.equal(file?.group, "app");
  assert.deepEqual(b.origins, [
    { path: "/etc/app.conf", content: "b", mode: "a", owner: "all", triggers: [] },
  ]);
});

test("triggers: every group's commands for a path, lowest priority first, a command listed twice run once", () => {
  const b = build({
    "config.yaml": "group_order: [a, b]\n",
    "groups.yaml": "a: [h1]\nb: [h1]\nc: [h1]\n",
    "all/files/etc/nginx": { dir: true },
    "all/triggers.yaml": "/etc/nginx: [all-1, reload]\n",
    "b/files/etc/nginx/nginx.conf": "b\n",
    "b/triggers.yaml": "/etc/nginx: [reload, b-1]\n",
    "a/files/etc/nginx/sites": { dir: true },
    "a/triggers.yaml": "/etc/nginx: [a-1]\n",
    "c/files/etc/nginx": { dir: true },
    "c/triggers.yaml": "/etc/nginx: [c-1, all-1]\n",
    "h1/files/etc/nginx": { dir: true },
    "h1/triggers.yaml": "/etc/nginx: [h1-1]\n",
  });
  assert.deepEqual(b.triggers, [
    { path: "/etc/nginx", commands: ["all-1", "reload", "c-1", "a-1", "b-1", "h1-1"] },
  ]);
  assert.deepEqual(b.origins, [
    { path: "/etc/nginx", content: "h1", triggers: ["all", "c", "a", "b", "h1"] },
  ]);
});

test("directories no permissions.yaml names keep what they have on the host, / included (SPEC 3.5)", () => {
  const b = build({
    "groups.yaml": "web: [h1]\n",
    "all/files/var/tmp/x": "x\n",
    "all/files/srv": { dir: true },
    "all/permissions.yaml": "/srv: 0750\n",
    "web/files/etc/app": { dir: true },
    "web/files/opt": { dir: true },
    "web/permissions.yaml": "/opt: 0755 root root\n",
  });
  const kept = b.files.filter((f) => f.keep === true).map((f) => f.path);
  assert.deepEqual(kept, ["/", "/etc", "/etc/app", "/var", "/var/tmp"]);
  const managed = b.files.filter((f) => f.type === "dir" && f.keep !== true).map((f) => f.path);
  assert.deepEqual(managed, ["/opt", "/srv"]);
  assert.equal(b.files.find((f) => f.path === "/var/tmp/x")?.keep, undefined, "only directories");
  // A directory named by a lower group's permissions.yaml is managed even when a higher group
  // provides it too.
  const declaredBelow = build({
    "all/files/var/tmp": { dir: true },
    "all/permissions.yaml": "/var/tmp: 1777\n",
    "h1/files/var/tmp/x": "x\n",
  });
  const tmp = declaredBelow.files.find((f) => f.path === "/var/tmp");
  assert.equal(tmp?.keep, undefined);
  assert.equal(tmp?.mode, 0o1777);
});

test("priority: a file that wins over a directory cannot have children from the other group", () => {
  const err = buildError({
    "config.yaml": "group_order: [b, a]\n",
    "groups.yaml": "a: [h1]\nb: [h1]\n",
    "a/files/x": "file",
    "b/files/x/y": "child",
  });
  assert.match(err.message, /"\/x\/y" of group "b" lies below "\/x", which is a file of group "a"/);
});

const template = [
  "host={{ host }}",
  "{% if groups.web %}web{% else %}not web{% endif %}",
  "{% if groups.db %}db{% else %}not db{% endif %}",
  "{% if groups.detected_debian %}debian{% endif %}",
  "{% if groups.h2 %}h2{% endif %}",
  "",
].join("\n");
const templateTree: Tree = {
  "hosts.yaml": "- name: h1\n- name: h2\n",
  "groups.yaml": "web: [h1]\ndb: [h2, detected_debian]\n",
  "all/files/etc/motd": template,
  "all/templates.yaml": "- /etc/motd\n",
};

test("templates see host and groups", () => {
  assert.equal(content(build(templateTree, "h1"), "/etc/motd"), "host=h1\nweb\nnot db\n\n\n");
  assert.equal(content(build(templateTree, "h2"), "/etc/motd"), "host=h2\nnot web\ndb\n\nh2\n");
  const debian = build(templateTree, "h1", { ...facts, detected: ["detected_debian"] });
  assert.equal(content(debian, "/etc/motd"), "host=h1\nweb\ndb\ndebian\n\n");
  const b = build(templateTree, "h1");
  const entry = b.files.find((f) => f.path === "/etc/motd");
  assert.equal(entry?.size, b.content.get("/etc/motd")?.length);
  assert.equal(entry?.sha256, sha256(b.content.get("/etc/motd")?.toString() ?? ""));
});

const templateErrors: [string, string, RegExp][] = [
  ["an unknown group", "a\nb\n{% if groups.webserverz %}x{% endif %}\n", /groups\.webserverz/],
  ["an unknown variable", "a\n{{ hostname }}\n", /undefined variable: hostname/],
  ["an unknown property", "{{ host }}\n{{ groups.web.x.y }}\n", /undefined variable/],
];
for (const [name, text, re] of templateErrors) {
  test(`template error: ${name} names group, file and line`, () => {
    const line =
      text
        .split("\n")
        .findIndex(
          (l) => l.includes("{{ hostname") || l.includes("webserverz") || l.includes("x.y"),
        ) + 1;
    const err = buildError({
      "groups.yaml": "web: [h1]\n",
      "web/files/etc/motd": text,
      "web/templates.yaml": "- /etc/motd\n",
    });
    assert.match(err.message, /template error in group "web"/);
    assert.ok(err.message.includes(`web/files/etc/motd:${line}`), err.message);
    assert.match(err.message, re);
  });
}

test("templates cannot read local files with include", () => {
  const err = buildError({
    "all/files/motd": "{% include '/etc/passwd' %}\n",
    "all/templates.yaml": "- /motd\n",
  });
  assert.match(err.message, /all\/files\/motd:1/);
});

test("a template that does not match another group's file is a conflict, templates render per host", () => {
  const tree: Tree = {
    "hosts.yaml": "- name: h1\n- name: h2\n",
    "all/files/etc/motd": { content: "{{ host }}", mode: 0o600 },
    "all/templates.yaml": "- /etc/motd\n",
  };
  const config = loadConfig(configDir(tree));
  const [h1, h2] = config.hosts;
  assert.ok(h1 && h2);
  assert.equal(buildHost(config, h1, facts).content.get("/etc/motd")?.toString(), "h1");
  assert.equal(buildHost(config, h2, facts).content.get("/etc/motd")?.toString(), "h2");
  // The checkout's 0600 does not reach the host (SPEC 3.5): without permissions.yaml it is 0644.
  assert.equal(buildHost(config, h2, facts).files.find((f) => f.path === "/etc/motd")?.mode, 0o644);
});

test("packages and services with a root other than / fail the build (SPEC 3.2)", () => {
  const rooted = "- name: h1\n  connection: local\n  root: /srv/image\n";
  const packages = buildError({ "hosts.yaml": rooted, "all/packages.yaml": "- htop\n" });
  assert.match(packages.message, /^packages need root "\/", but host "h1" has root "\/srv\/image"/);
  const services = buildError({ "hosts.yaml": rooted, "all/services.yaml": "- nginx\n" });
  assert.match(services.message, /^services need root "\/", but host "h1" has root "\/srv\/image"/);
  const b = build({ "hosts.yaml": rooted, "all/commands.yaml": "- echo ok\n" });
  assert.deepEqual(b.commands, [{ run: "echo ok" }], "commands are fine below a root");
});

test("hosts with the same group directories share a build, yet each gets its own owner and own group's entries", () => {
  const tree: Tree = {
    "hosts.yaml": "- name: h1\n- name: h2\n- name: h3\n",
    "all/files/etc/motd": "all\n",
    "all/files/etc/issue": "all\n",
    "h3/files/etc/motd": "h3\n",
  };
  const config = loadConfig(configDir(tree));
  const [h1, h2, h3] = config.hosts;
  assert.ok(h1 && h2 && h3);
  const b1 = buildHost(config, h1, facts);
  const b2 = buildHost(config, h2, facts);
  assert.deepEqual(b2.files, b1.files);
  assert.deepEqual(b1.groups, ["all", "h1"]);
  assert.deepEqual(b2.groups, ["all", "h2"]);
  // Another default owner (the helper runs as another user) is another build.
  const other = buildHost(config, h2, { detected: [], uid: 0, gid: 0 });
  const motd = (b: BuiltHost) => b.files.find((f) => f.path === "/etc/motd");
  assert.equal(motd(other)?.user, 0);
  assert.equal(motd(other)?.group, 0);
  assert.equal(motd(b2)?.user, 1000);
  assert.equal(motd(buildHost(config, h1, facts))?.user, 1000);
  // The host's own group directory wins for that host only.
  assert.equal(content(buildHost(config, h3, facts), "/etc/motd"), "h3\n");
  assert.equal(content(buildHost(config, h2, facts), "/etc/motd"), "all\n");
  assert.equal(content(buildHost(config, h3, facts), "/etc/issue"), "all\n");
});

test("a build shared by hosts still fails a host whose root does not allow its packages", () => {
  const tree: Tree = {
    "hosts.yaml": "- name: h1\n- name: h2\n  connection: local\n  root: /srv/image\n",
    "all/files/motd": "hi\n",
    "all/packages.yaml": "- htop\n",
  };
  const config = loadConfig(configDir(tree));
  const [h1, h2] = config.hosts;
  assert.ok(h1 && h2);
  assert.deepEqual(names(buildHost(config, h1, facts).packages), ["htop"]);
  assert.throws(() => buildHost(config, h2, facts), /packages need root "\/"/);
});

// Absence is a type (SPEC 3.5 absent.yaml, 3.6).

const ABSENT = { type: "absent", mode: 0, user: 0, group: 0 };

test("absent.yaml: absent entries go into the request sorted by path, with the triggers above them", () => {
  const b = build({
    "all/files/etc/app/new.conf": "new\n",
    "all/triggers.yaml": "/etc/app: [reload app]\n",
    "all/absent.yaml": "- /etc/app/old.conf\n- /etc/a-old\n- /zz/gone\n",
  });
  assert.deepEqual(
    b.files.map((f) => [f.path, f.type]),
    [
      ["/", "dir"],
      ["/etc", "dir"],
      ["/etc/a-old", "absent"],
      ["/etc/app", "dir"],
      ["/etc/app/new.conf", "file"],
      ["/etc/app/old.conf", "absent"],
      ["/zz/gone", "absent"],
    ],
  );
  assert.deepEqual(
    b.files.find((f) => f.path === "/etc/app/old.conf"),
    {
      path: "/etc/app/old.conf",
      ...ABSENT,
    },
  );
  assert.deepEqual(b.triggers, [{ path: "/etc/app", commands: ["reload app"] }]);
});

test("absent.yaml: a higher group's absence wins over a lower group's file, and a higher group's file over absence", () => {
  const tree = {
    "config.yaml": "group_order: [a, b]\n",
    "groups.yaml": "a: [h1]\nb: [h1]\n",
    "all/files/etc/old.conf": "all\n",
    "all/triggers.yaml": "/etc/old.conf: [fired]\n",
    "a/absent.yaml": "- /etc/old.conf\n- /etc/tool\n",
    "b/files/etc/tool": "b\n",
  };
  const b = build(tree);
  assert.deepEqual(
    b.files.find((f) => f.path === "/etc/old.conf"),
    {
      path: "/etc/old.conf",
      ...ABSENT,
    },
  );
  assert.equal(b.files.find((f) => f.path === "/etc/tool")?.type, "file");
  assert.equal(content(b, "/etc/tool"), "b\n");
  assert.deepEqual(b.triggers, [{ path: "/etc/old.conf", commands: ["fired"] }]);
  assert.deepEqual(
    b.origins.filter((o) => o.path.startsWith("/etc/")),
    [{ path: "/etc/old.conf", content: "a", absent: true, triggers: ["all"] }],
  );
  // The host's own group is above every other group.
  const own = build({ ...tree, "h1/files/etc/old.conf": "h1\n" });
  assert.equal(own.files.find((f) => f.path === "/etc/old.conf")?.type, "file");
  assert.equal(content(own, "/etc/old.conf"), "h1\n");
});

test("absent.yaml: unordered groups, one providing a path and one naming it absent, are a conflict about its type", () => {
  const err = buildError({
    "groups.yaml": "a: [h1]\nb: [h1]\n",
    "a/files/etc/motd": "a\n",
    "b/absent.yaml": "- /etc/motd\n",
  });
  assert.equal(
    err.message,
    'conflict: groups "a" and "b" set the type of "/etc/motd" differently ("a": file, "b": absent); order the two groups with group_order in config.yaml',
  );
  // Two groups that both name it absent agree.
  const b = build({
    "groups.yaml": "a: [h1]\nb: [h1]\n",
    "a/absent.yaml": "- /etc/motd\n",
    "b/absent.yaml": "- /etc/motd\n",
  });
  assert.deepEqual(
    b.files.find((f) => f.path === "/etc/motd"),
    { path: "/etc/motd", ...ABSENT },
  );
});

test("absent.yaml: an absence over a directory that a lower group fills, or an entry below an absent path, is an error naming both groups", () => {
  const over = buildError({
    "config.yaml": "group_order: [a, b]\n",
    "groups.yaml": "a: [h1]\nb: [h1]\n",
    "a/files/etc/app/app.conf": "a\n",
    "b/absent.yaml": "- /etc/app\n",
  });
  assert.equal(
    over.message,
    '"/etc/app/app.conf" of group "a" lies below "/etc/app", which group "b" names in absent.yaml (over the directory of group "a"); remove "/etc/app/app.conf" from group "a" or "/etc/app" from the absent.yaml of group "b"',
  );
  const below = buildError({
    "groups.yaml": "a: [h1]\n",
    "a/files/etc/app/x/y.conf": "a\n",
    "h1/absent.yaml": "- /etc/app/x\n",
  });
  assert.match(
    below.message,
    /"\/etc\/app\/x\/y\.conf" of group "a" lies below "\/etc\/app\/x", which group "h1" names in absent\.yaml/,
  );
  const nested = buildError({
    "groups.yaml": "a: [h1]\n",
    "a/absent.yaml": "- /etc/app/x\n",
    "all/absent.yaml": "- /etc/app\n",
  });
  assert.match(
    nested.message,
    /"\/etc\/app\/x" \(absent\.yaml of group "a"\) lies below "\/etc\/app" \(absent\.yaml of group "all"\)/,
  );
  const underFile = buildError({
    "groups.yaml": "a: [h1]\n",
    "a/files/etc/x": "a file\n",
    "all/absent.yaml": "- /etc/x/y\n",
  });
  assert.equal(
    underFile.message,
    '"/etc/x/y" (absent.yaml of group "all") lies below "/etc/x", which is a file of group "a"; nothing can be below a file, so remove "/etc/x/y" from that absent.yaml',
  );
});
