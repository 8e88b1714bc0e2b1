// The distro harness (`npm run test:distros`, opt-in; README.md beside this file):
// Debian 11, 12 and 13 root file systems built with mmdebstrap (cached), each
// with its own sshd in a namespace on 127.0.0.1, and one realistic configuration
// (config/) synced to all of them through this repository's bin/safcm over plain
// ssh. Checks, per release: a dry-run lists what the first sync changes; the
// first sync's files, modes, owners, packages, triggers and commands, read back
// over ssh; a second sync changes nothing; a dry-run after tampering reports
// exactly the tampered entries, and a sync repairs them; an sshd_config that
// `sshd -t` rejects is never installed.
//
// Options (after `--`): --release=11,13 (or codenames), --skip=validate,guards
// (leave out validate.yaml, or the guarded commands of commands.yaml, for a safcm
// that lacks them), --rebuild (ignore the cached images), --keep (leave the
// unpacked root file systems and the configuration copy for a look).

import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { fetchSharedRuntime, SHARED_CACHE } from "../helpers/runtime.ts";
import { findProgram } from "../helpers/programs.ts";
import { REPO, safcm, type Run } from "../helpers/tree.ts";
import { expectedFiles, mismatch, PACKAGES, type Entry } from "./expect.ts";
import { mountedBelow, startMachine, type Machine } from "./machine.ts";
import { packages, run, stat, type Ssh } from "./remote.ts";
import { cacheDir, image, machineArchive, RELEASES, unpack, type Release } from "./rootfs.ts";

const HERE = join(REPO, "test/distros");
const FEATURES = ["validate", "guards"] as const;
type Feature = (typeof FEATURES)[number];

interface Options {
  releases: Release[];
  skip: Set<Feature>;
  rebuild: boolean;
  keep: boolean;
}

function usage(message: string): never {
  process.stderr.write(
    `test:distros: ${message}\nusage: npm run test:distros -- [--release=11,12,13] [--skip=validate,guards] [--rebuild] [--keep]\n`,
  );
  process.exit(2);
}

function options(argv: string[]): Options {
  const o: Options = { releases: RELEASES, skip: new Set(), rebuild: false, keep: false };
  for (const arg of argv) {
    const [name, value] = arg.split(/=(.*)/s);
    if (name === "--release" && value !== undefined) {
      o.releases = value.split(",").map((v) => {
        const r = RELEASES.find((x) => x.version === v || x.codename === v || x.host === v);
        return r ?? usage(`unknown release ${JSON.stringify(v)} (known: 11, 12, 13)`);
      });
    } else if (name === "--skip" && value !== undefined) {
      for (const f of value.split(",")) {
        if (!(FEATURES as readonly string[]).includes(f))
          usage(`unknown feature ${JSON.stringify(f)}`);
        o.skip.add(f as Feature);
      }
    } else if (arg === "--rebuild") o.rebuild = true;
    else if (arg === "--keep") o.keep = true;
    else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  return o;
}

/** One line naming the package when a program is missing (SPEC 9). */
function requirePrograms(): void {
  const programs: Record<string, string> = {
    mmdebstrap: "mmdebstrap",
    unshare: "util-linux",
    findmnt: "util-linux",
    tar: "tar",
    ssh: "openssh-client",
    "ssh-keygen": "openssh-client",
  };
  for (const [program, pkg] of Object.entries(programs)) {
    if (findProgram(program) === null) {
      process.stderr.write(
        `test:distros needs ${program}, which is not in PATH: apt-get install ${pkg}\n`,
      );
      process.exit(1);
    }
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("test:distros needs root (mmdebstrap, namespaces, chroot)\n");
    process.exit(1);
  }
}

// ---- results -------------------------------------------------------------------

interface Check {
  phase: string;
  name: string;
  ok: boolean;
  detail: string;
}

class Results {
  readonly checks = new Map<string, Check[]>();
  readonly timings: [string, number][] = [];
  constructor(hosts: string[]) {
    for (const h of hosts) this.checks.set(h, []);
  }
  add(host: string, phase: string, name: string, ok: boolean, detail = ""): void {
    this.checks.get(host)?.push({ phase, name, ok, detail });
    if (!ok)
      process.stdout.write(`  FAIL ${host} [${phase}] ${name}${detail ? `: ${detail}` : ""}\n`);
  }
  async time<T>(label: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await work();
    } finally {
      this.timings.push([label, (Date.now() - started) / 1000]);
    }
  }
}

// ---- the JSON report, as far as the harness reads it (SPEC 7.2) ------------------

interface JsonHost {
  name: string;
  ok: boolean;
  error: string | null;
  changed?: boolean;
  runtime: { kind: string; version: string; uploaded: boolean } | null;
  files: { path: string; waits_for_owner?: string }[];
  packages: (string | { name: string; action: string })[];
  commands: {
    command: string;
    trigger: string | null;
    skipped?: string | null;
    pending?: boolean;
  }[];
}

function hostsOf(r: Run): Map<string, JsonHost> {
  try {
    const report = JSON.parse(r.stdout) as { hosts: JsonHost[] };
    return new Map(report.hosts.map((h) => [h.name, h]));
  } catch {
    return new Map();
  }
}

const packageName = (p: string | { name: string }) => (typeof p === "string" ? p : p.name);

// ---- the run ----------------------------------------------------------------------

async function main(): Promise<number> {
  const o = options(process.argv.slice(2));
  requirePrograms();
  const hosts = o.releases.map((r) => r.host);
  const results = new Results(hosts);
  const archive = machineArchive();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    `test:distros: ${hosts.join(", ")} from ${archive.debian}${o.skip.size ? `; skipping ${[...o.skip].join(", ")}` : ""}`,
  );

  // The bundled runtime (Debian 11's Node.js 12 is too old): fetched once into the
  // cache the tests share (test/helpers/runtime.ts), never again while it verifies.
  if (o.releases.some((r) => r.node < 18)) {
    await results.time("bundled runtime (fetch or cached)", fetchSharedRuntime);
  }

  const images = new Map<string, string>();
  for (const release of o.releases) {
    const img = await results.time(`image ${release.host}`, () =>
      image(release, archive, { rebuild: o.rebuild, log: (l) => say(`  ${l}`) }),
    );
    say(
      `  ${release.host}: ${img.built === null ? "cached image" : `built in ${img.built.toFixed(0)} s`} ${img.tarball}`,
    );
    images.set(release.host, img.tarball);
  }

  const logs = join(cacheDir(), "last-run");
  rmSync(logs, { recursive: true, force: true });
  mkdirSync(logs, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), "safcm-distros-"));
  const machines: Machine[] = [];
  try {
    const key = join(tmp, "client_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "safcm-distros", "-f", key]);
    await results.time("unpack and start", async () => {
      for (const release of o.releases) {
        const root = join(tmp, release.host);
        unpack(images.get(release.host) ?? "", root);
        machines.push(await startMachine(release.host, root, `${key}.pub`));
      }
    });

    const config = join(tmp, "config");
    const ssh: Ssh = { config: join(config, "ssh_config") };
    writeConfig(config, machines, key, join(tmp, "known_hosts"), o.skip);
    const env = { XDG_CACHE_HOME: SHARED_CACHE };
    let n = 0;
    const sync = async (label: string, args: string[]): Promise<Run> => {
      const r = await results.time(label, () =>
        safcm(["sync", "-C", config, ...args, ...hosts], { env }),
      );
      const base = join(logs, `${String(++n).padStart(2, "0")}-${label.replace(/\W+/g, "-")}`);
      writeFileSync(`${base}.out`, r.stdout);
      writeFileSync(`${base}.err`, r.stderr);
      return r;
    };

    const checked = await safcm(["check", "-C", config], { env });
    if (checked.code !== 0) {
      say(`safcm check rejected the configuration (exit ${checked.code}):\n${checked.stderr}`);
      say("(for a safcm without validate.yaml or command guards: --skip=validate,guards)");
      return 1;
    }

    // What exists before the first sync: undeclared directories must keep it (SPEC 3.5).
    const expected = new Map<string, Map<string, Entry>>();
    for (const release of o.releases) {
      const files = expectedFiles(config, release);
      const before = await stat(ssh, release.host, ["/", ...files.keys()]);
      const root = before.get("/");
      if (root !== null && root !== undefined) {
        files.set("/", {
          path: "/",
          type: "dir",
          mode: root.mode,
          user: root.user,
          group: root.group,
          content: "-",
        });
      }
      for (const [path, entry] of files) {
        const old = before.get(path);
        if (entry.mode === null && old !== null && old !== undefined) {
          files.set(path, { ...entry, mode: old.mode, user: old.user, group: old.group });
        }
      }
      expected.set(release.host, files);
    }

    // 1. A dry-run on fresh hosts, then the first sync: the dry-run lists what the sync changes.
    const dry = await sync("dry-run on fresh hosts", ["--json", "-n"]);
    const first = await sync("first sync", ["--json"]);
    const dryHosts = hostsOf(dry);
    const firstHosts = hostsOf(first);
    for (const release of o.releases) {
      const h = release.host;
      const d = dryHosts.get(h);
      const f = firstHosts.get(h);
      results.add(
        h,
        "dry-run",
        "host ok",
        d?.ok === true,
        d?.error ?? (d ? "" : `no report (exit ${dry.code})`),
      );
      results.add(
        h,
        "first sync",
        "host ok",
        f?.ok === true,
        f?.error ?? (f ? "" : `no report (exit ${first.code}): ${first.stderr.trim()}`),
      );
      if (d === undefined || f === undefined) continue;
      const dryPaths = new Set(d.files.map((x) => x.path));
      const syncPaths = f.files.map((x) => x.path);
      const unlisted = syncPaths.filter((p) => !dryPaths.has(p));
      results.add(
        h,
        "dry-run",
        `lists every file the sync changes (${dryPaths.size} listed, ${syncPaths.length} changed)`,
        unlisted.length === 0,
        unlisted.join(", "),
      );
      const wantRuntime = release.node < 18 ? "bundled" : "host";
      if (release.node < 18) {
        // The first contact (the dry-run) uploads it; the sync finds it in place.
        results.add(
          h,
          "dry-run",
          "bundled runtime uploaded",
          d.runtime?.uploaded === true,
          JSON.stringify(d.runtime),
        );
      }
      results.add(
        h,
        "first sync",
        `helper on the ${wantRuntime} runtime`,
        f.runtime?.kind === wantRuntime,
        JSON.stringify(f.runtime),
      );
      const installed = f.packages.map(packageName);
      for (const p of PACKAGES)
        results.add(
          h,
          "first sync",
          `reports ${p} installed`,
          installed.includes(p),
          installed.join(", "),
        );
      for (const trigger of ["/etc/app", "/usr/local/share/ca-certificates"]) {
        const ran = f.commands.filter((c) => c.trigger === trigger).length;
        results.add(h, "first sync", `trigger of ${trigger} ran once`, ran === 1, `${ran} time(s)`);
      }
      if (!o.skip.has("guards")) {
        const guarded = f.commands.filter((c) => /groupadd|initialized/.test(c.command));
        results.add(
          h,
          "first sync",
          "both guarded commands ran",
          guarded.length === 2 && guarded.every((c) => !c.skipped),
          JSON.stringify(guarded),
        );
      }
    }

    // 2. Everything the configuration declares, read back over ssh.
    const verify = async (phase: string) => {
      for (const release of o.releases) {
        const h = release.host;
        const files = expected.get(h) ?? new Map<string, Entry>();
        const actual = await stat(ssh, h, [...files.keys()]);
        for (const entry of files.values()) {
          const what = mismatch(entry, actual.get(entry.path) ?? null);
          const declared = entry.mode === null ? " (undeclared, created by the sync)" : "";
          results.add(
            h,
            phase,
            `${entry.path} ${entry.type} ${entry.mode ?? ""} ${entry.user ?? ""}${declared}`.replace(
              /\s+/g,
              " ",
            ),
            what === "",
            what,
          );
        }
        const status = await packages(ssh, h, PACKAGES);
        for (const p of PACKAGES)
          results.add(
            h,
            phase,
            `package ${p} installed`,
            status.get(p) === "installed",
            status.get(p),
          );
        const extra = await stat(ssh, h, ["/etc/ssl/certs/safcm-harness-ca.pem"]);
        const ca = extra.get("/etc/ssl/certs/safcm-harness-ca.pem");
        results.add(
          h,
          phase,
          "update-ca-certificates (trigger) linked the CA",
          ca?.type === "symlink",
          JSON.stringify(ca),
        );
        if (!o.skip.has("guards")) {
          const out = await run(
            ssh,
            h,
            "getent group safcm-ops >/dev/null && echo group; cat /var/lib/app/initialized 2>/dev/null || true",
          );
          results.add(
            h,
            phase,
            "guarded commands: group safcm-ops, /var/lib/app/initialized",
            out === "group\ninitialised\n",
            JSON.stringify(out),
          );
        }
      }
    };
    await verify("after first sync");
    // Undeclared directories that the first sync created and a package then took
    // over (/etc/redis, /var/lib/redis): from now on they keep what they have (SPEC 3.5).
    for (const h of hosts) {
      const files = expected.get(h) ?? new Map<string, Entry>();
      const created = [...files.values()].filter((e) => e.mode === null);
      const now = await stat(
        ssh,
        h,
        created.map((e) => e.path),
      );
      for (const e of created) {
        const st = now.get(e.path);
        if (st) files.set(e.path, { ...e, mode: st.mode, user: st.user, group: st.group });
      }
    }
    const triggerLog = async (h: string) =>
      run(ssh, h, "cat /var/log/app-reload.log 2>/dev/null || true");
    for (const h of hosts) {
      const log = await triggerLog(h);
      results.add(
        h,
        "after first sync",
        "trigger log: /etc/app once",
        log === "/etc/app changed\n",
        JSON.stringify(log),
      );
    }

    // 3. A second sync changes nothing (JSON), and the human summary says so.
    const second = await sync("second sync", ["--json"]);
    const secondHosts = hostsOf(second);
    for (const h of hosts) {
      const s = secondHosts.get(h);
      results.add(h, "second sync", "host ok", s?.ok === true, s?.error ?? "");
      if (s === undefined) continue;
      results.add(
        h,
        "second sync",
        "no file changed",
        s.files.length === 0,
        s.files.map((x) => x.path).join(", "),
      );
      results.add(
        h,
        "second sync",
        "no package installed",
        s.packages.length === 0,
        s.packages.map(packageName).join(", "),
      );
      const triggers = s.commands.filter((c) => c.trigger !== null);
      results.add(
        h,
        "second sync",
        "no trigger ran",
        triggers.length === 0,
        triggers.map((c) => c.command).join(", "),
      );
      if (!o.skip.has("guards")) {
        const guarded = s.commands.filter((c) => /groupadd|initialized/.test(c.command));
        results.add(
          h,
          "second sync",
          "guarded commands skipped",
          guarded.length === 2 &&
            guarded.every((c) => c.skipped === "unless" || c.skipped === "creates"),
          JSON.stringify(guarded),
        );
      }
      if (s.changed !== undefined)
        results.add(h, "second sync", 'JSON "changed": false', s.changed === false);
      results.add(
        h,
        "second sync",
        "bundled runtime not uploaded again",
        s.runtime?.uploaded !== true,
        JSON.stringify(s.runtime),
      );
    }
    const human = await sync("third sync (human report)", []);
    const summary =
      /(\d+) host\(s\):.*/.exec(human.stdout + human.stderr)?.[0] ?? "(no summary line)";
    const unchanged = new RegExp(`\\b${hosts.length} unchanged\\b`).test(summary);
    for (const h of hosts)
      results.add(
        h,
        "third sync",
        `human summary: all unchanged`,
        unchanged && human.code === 0,
        summary,
      );

    // 4. Tampering: a dry-run reports exactly the tampered entries, changes nothing; a sync repairs them.
    const tampered = [
      "/etc/motd",
      "/etc/app/secret.key",
      "/srv/shared",
      "/etc/app/debian.conf",
      "/etc/redis/users.acl",
      "/etc/app/current.conf",
    ];
    for (const h of hosts) {
      await run(
        ssh,
        h,
        [
          "echo tampered >> /etc/motd",
          "chmod 0644 /etc/app/secret.key",
          "chgrp root /srv/shared",
          "rm /etc/app/debian.conf",
          "chown root /etc/redis/users.acl",
          "rm /etc/app/current.conf && echo not-a-link > /etc/app/current.conf",
        ].join(" && "),
      );
    }
    const logBefore = new Map<string, string>();
    for (const h of hosts) logBefore.set(h, await triggerLog(h));
    const after = await sync("dry-run after tampering", ["--json", "-n"]);
    const afterHosts = hostsOf(after);
    for (const h of hosts) {
      const a = afterHosts.get(h);
      results.add(h, "tampered dry-run", "host ok", a?.ok === true, a?.error ?? "");
      if (a === undefined) continue;
      const reported = new Set(a.files.map((x) => x.path));
      const missed = tampered.filter((p) => !reported.has(p));
      const extra = [...reported].filter((p) => !tampered.includes(p));
      results.add(
        h,
        "tampered dry-run",
        `reports the ${tampered.length} tampered entries, nothing else`,
        missed.length === 0 && extra.length === 0,
        [
          missed.length ? `missed ${missed.join(", ")}` : "",
          extra.length ? `extra ${extra.join(", ")}` : "",
        ]
          .filter(Boolean)
          .join("; "),
      );
      const motd = (await stat(ssh, h, ["/etc/motd"])).get("/etc/motd");
      const want = expected.get(h)?.get("/etc/motd");
      results.add(
        h,
        "tampered dry-run",
        "changed nothing (/etc/motd still tampered)",
        motd !== undefined && motd !== null && motd.content !== want?.content,
      );
      const log = await triggerLog(h);
      results.add(
        h,
        "tampered dry-run",
        "ran no trigger",
        log === logBefore.get(h),
        JSON.stringify(log),
      );
    }
    const repair = await sync("sync after tampering", ["--json"]);
    const repairHosts = hostsOf(repair);
    for (const h of hosts) {
      const r = repairHosts.get(h);
      results.add(h, "repair", "host ok", r?.ok === true, r?.error ?? "");
      if (r === undefined) continue;
      const reported = r.files.map((x) => x.path).sort();
      results.add(
        h,
        "repair",
        "repairs the tampered entries",
        JSON.stringify(reported) === JSON.stringify([...tampered].sort()),
        reported.join(", "),
      );
      const log = await triggerLog(h);
      results.add(
        h,
        "repair",
        "trigger of /etc/app ran once more",
        log === `${logBefore.get(h)}/etc/app changed\n`,
        JSON.stringify(log),
      );
    }
    await verify("after repair");

    // 5. validate.yaml: an sshd_config that the release's own `sshd -t` rejects is never installed.
    if (!o.skip.has("validate")) {
      const file = join(config, "all/files/etc/ssh/sshd_config");
      const good = readFileSync(file, "utf8");
      writeFileSync(file, `${good}NoSuchOption yes\n`);
      const broken = await sync("sync of a broken sshd_config", ["--json"]);
      writeFileSync(file, good);
      const brokenHosts = hostsOf(broken);
      for (const h of hosts) {
        const b = brokenHosts.get(h);
        results.add(
          h,
          "validate",
          "the host fails",
          b?.ok === false && broken.code === 1,
          b?.error ?? `exit ${broken.code}`,
        );
        const now = (await stat(ssh, h, ["/etc/ssh/sshd_config"])).get("/etc/ssh/sshd_config");
        const want = expected.get(h)?.get("/etc/ssh/sshd_config");
        results.add(h, "validate", "the old sshd_config stays", now?.content === want?.content);
        const left = await run(
          ssh,
          h,
          "ls -a /etc/ssh | grep '^\\.' | grep -v '^\\.\\.\\?$' || true",
        );
        results.add(
          h,
          "validate",
          "no temporary file left in /etc/ssh",
          left === "",
          JSON.stringify(left),
        );
      }
    }
  } finally {
    for (const m of machines) await m.stop();
    if (mountedBelow(tmp)) {
      say(`something is still mounted below ${tmp}: left in place`);
    } else if (o.keep) {
      say(`kept: ${tmp}`);
    } else {
      spawnSync("rm", ["-rf", "--one-file-system", tmp]);
    }
  }

  return summary(results, o, logs);
}

function summary(results: Results, o: Options, logs: string): number {
  let failed = 0;
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say("");
  say("test:distros summary");
  for (const release of o.releases) {
    const checks = results.checks.get(release.host) ?? [];
    const bad = checks.filter((c) => !c.ok);
    failed += bad.length;
    const entries = checks.filter((c) => c.phase === "after first sync");
    say(
      `  ${release.host} (${release.codename}): ${bad.length === 0 ? "PASS" : "FAIL"}, ${checks.length - bad.length}/${checks.length} checks passed; ` +
        `${entries.filter((c) => c.ok).length}/${entries.length} entries right after the first sync`,
    );
    for (const c of bad) say(`    FAIL [${c.phase}] ${c.name}${c.detail ? `: ${c.detail}` : ""}`);
  }
  if (o.skip.size) say(`  skipped: ${[...o.skip].join(", ")}`);
  say("  timings:");
  for (const [label, seconds] of results.timings) say(`    ${label}: ${seconds.toFixed(1)} s`);
  say(`  safcm's output of each sync: ${logs}`);
  return failed === 0 ? 0 : 1;
}

/** A copy of config/ with hosts.yaml, the ssh client configuration and the skipped features. */
function writeConfig(
  config: string,
  machines: Machine[],
  key: string,
  knownHosts: string,
  skip: Set<Feature>,
): void {
  cpSync(join(HERE, "config"), config, { recursive: true, verbatimSymlinks: true });
  writeFileSync(join(config, "hosts.yaml"), machines.map((m) => `- name: ${m.host}\n`).join(""));
  writeFileSync(knownHosts, machines.map((m) => `${m.knownHost}\n`).join(""));
  writeFileSync(
    join(config, "ssh_config"),
    [
      ...machines.flatMap((m) => [
        `Host ${m.host}`,
        `  Port ${m.port}`,
        `  HostKeyAlias ${m.host}-safcm-distros`,
      ]),
      "Host *",
      "  HostName 127.0.0.1",
      "  User root",
      `  IdentityFile ${key}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${knownHosts}`,
      "  StrictHostKeyChecking yes",
      "  BatchMode yes",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(config, "config.yaml"),
    `${readFileSync(join(config, "config.yaml"), "utf8")}ssh_config: ssh_config\n`,
  );
  if (skip.has("validate")) rmSync(join(config, "all/validate.yaml"));
  if (skip.has("guards")) {
    const file = join(config, "all/commands.yaml");
    const commands = (parse(readFileSync(file, "utf8")) as unknown[]).filter(
      (c) => typeof c === "string",
    );
    writeFileSync(file, stringify(commands));
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test:distros: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
