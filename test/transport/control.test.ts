// The control socket's name (SPEC 3.1 ssh_persist): keyed by the effective
// destination exactly as OpenSSH's %C keys it, plus the route where there is one.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { resolveHost, scanConfig, socketName } from "../../src/transport/control.ts";
import type { TransportHost } from "../../src/transport/transport.ts";
import { requireProgram } from "../helpers/programs.ts";
import { tempDir } from "../helpers/tree.ts";

const tmp = tempDir();
after(tmp.cleanup);

const CONFIG = [
  "Host plain",
  "  HostName 192.0.2.10",
  "Host upper",
  "  HostName Web1.Example.ORG",
  "  Port 2222",
  "  User admin",
  "Host jumped",
  "  HostName 192.0.2.10",
  "  ProxyJump bastion.example.org",
  "Host commanded",
  "  HostName 192.0.2.10",
  "  ProxyCommand nc -X connect -x proxy:3128 %h %p",
  "",
].join("\n");

function host(name: string, sshConfig: string, sshUser: string | null = null): TransportHost {
  return {
    name,
    connection: "ssh",
    sshUser,
    node: "node",
    sshConfig,
    sudo: false,
    sshPersist: 60,
    runtime: "auto",
  };
}

/** OpenSSH's own expansion of %C for the host. */
function opensshC(h: TransportHost): string {
  const args = ["-G", "-F", h.sshConfig ?? "", "-o", "ControlPath=%C"];
  if (h.sshUser !== null) args.push("-l", h.sshUser);
  const out = execFileSync(requireProgram("ssh", "openssh-client"), [...args, "--", h.name], {
    encoding: "utf8",
  });
  return /^controlpath (.*)$/m.exec(out)?.[1] ?? "";
}

test("without a proxy the name is OpenSSH's own %C: user, host name, port", async () => {
  const config = join(tmp.dir, "config");
  writeFileSync(config, CONFIG);
  const names = new Set<string>();
  for (const h of [
    host("plain", config),
    host("plain", config, "someone"),
    host("upper", config),
    host("Other.Example.Org", config),
  ]) {
    const settings = await resolveHost(h);
    assert.ok(settings);
    const name = socketName(settings, h.name);
    assert.equal(name, opensshC(h), `${h.name} ${h.sshUser ?? ""}`);
    names.add(name ?? "");
  }
  assert.equal(names.size, 4, "each destination its own master");
});

test("a proxy is part of the name: the same address behind a bastion is another host", async () => {
  const config = join(tmp.dir, "config-proxy");
  writeFileSync(config, CONFIG);
  const name = async (n: string) =>
    socketName((await resolveHost(host(n, config))) ?? new Map<string, string>(), n);
  const plain = await name("plain");
  const jumped = await name("jumped");
  const commanded = await name("commanded");
  assert.equal(new Set([plain, jumped, commanded]).size, 3);
  assert.match(jumped ?? "", /^[0-9a-f]{40}$/);
  // A ProxyCommand may pick the machine by the name as given (%n, which ssh -G leaves as
  // it is): two names with the same command are two masters.
  const settings = await resolveHost(host("commanded", config));
  assert.ok(settings);
  assert.notEqual(socketName(settings, "commanded"), socketName(settings, "other"));
  const direct = await resolveHost(host("plain", config));
  assert.ok(direct);
  assert.equal(socketName(direct, "plain"), socketName(direct, "alias-of-plain"));
});

test("the configuration scan sees Control* and proxies, in included files, not in comments", () => {
  const dir = join(tmp.dir, "scan");
  execFileSync("mkdir", ["-p", join(dir, "conf.d")]);
  const main = join(dir, "main");
  writeFileSync(
    main,
    `# ProxyJump commented out\n# ControlMaster auto\nInclude ${dir}/conf.d/*.conf\n`,
  );
  assert.deepEqual(scanConfig(main), { control: false, proxy: false });
  const other = join(dir, "other");
  writeFileSync(other, `Include ${dir}/conf.d/*.conf\n`);
  writeFileSync(join(dir, "conf.d/a.conf"), "Host x\n  proxycommand=nc %h %p\n");
  writeFileSync(join(dir, "conf.d/b.conf"), "Host y\n\tControlPath /tmp/%C\n");
  assert.deepEqual(scanConfig(other), { control: true, proxy: true });
});
