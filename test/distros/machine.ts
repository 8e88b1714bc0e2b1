// One managed "machine" of the distro harness: an unpacked root file system
// whose own sshd runs in a mount, UTS and PID namespace of its own (unshare),
// listening on a free port of 127.0.0.1. The network is this machine's (apt
// inside reaches the archive). There is no init system: sshd is PID 1 of the
// namespace, and when the harness ends unshare, the kernel ends everything in it.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../helpers/net.ts";

// Runs as PID 1's parent shell inside the new namespaces: mounts what sshd and
// the helper need (procfs for /proc/self/fd, a small /dev, a fresh /run), then
// replaces itself by the root file system's sshd.
const NAMESPACE_SCRIPT = `
set -eu
R=$1
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mkdir -p "$R/dev" "$R/run"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$R/dev"
for d in null zero full random urandom tty; do
  touch "$R/dev/$d"
  mount --bind "/dev/$d" "$R/dev/$d"
done
mkdir -m 0755 "$R/dev/pts"
mkdir -m 1777 "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$R/run"
mkdir -m 0755 "$R/run/sshd"
mkdir -m 1777 "$R/run/lock"
hostname "$2"
exec chroot "$R" /usr/sbin/sshd -D -e -f /etc/safcm-harness/sshd_config
`;

export interface Machine {
  host: string;
  root: string;
  port: number;
  /** The line for the harness's known_hosts file. */
  knownHost: string;
  /** sshd's standard error so far (it logs with -e). */
  log: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts `host`'s sshd on `root` (unpacked), letting in the public key `clientKey`
 * as root. Its host key is the one the release's openssh-server made at build time.
 */
export async function startMachine(
  host: string,
  root: string,
  clientKey: string,
): Promise<Machine> {
  const port = await freePort();
  const own = join(root, "etc/safcm-harness");
  mkdirSync(own, { mode: 0o700 });
  writeFileSync(join(own, "authorized_keys"), readFileSync(clientKey), { mode: 0o600 });
  // The harness's own sshd configuration, apart from /etc/ssh/sshd_config, which
  // the synced configuration manages: whatever the sync does there, the harness
  // keeps its way in.
  writeFileSync(
    join(own, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      "HostKey /etc/ssh/ssh_host_ed25519_key",
      "PidFile none",
      "AuthorizedKeysFile /etc/safcm-harness/authorized_keys",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "Subsystem sftp internal-sftp",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  // Name resolution for apt inside: this machine's, as a fresh system would get it.
  writeFileSync(join(root, "etc/resolv.conf"), readFileSync("/etc/resolv.conf"));
  chmodSync(join(root, "etc/resolv.conf"), 0o644);
  writeFileSync(join(root, "etc/hostname"), `${host}\n`);
  const hostKey = readFileSync(join(root, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8").trim();
  const knownHost = `${host}-safcm-distros ${hostKey.split(/\s+/).slice(0, 2).join(" ")}`;

  const child: ChildProcess = spawn(
    "unshare",
    [
      "--mount",
      "--uts",
      "--pid",
      "--fork",
      "--kill-child",
      "--propagation",
      "private",
      "sh",
      "-c",
      NAMESPACE_SCRIPT,
      "sh",
      root,
      host,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  const closed = new Promise<void>((resolve) =>
    child.on("close", () => {
      exited = true;
      resolve();
    }),
  );

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`the sshd of ${host} ended at once:\n${stderr.trim()}`);
    if (stderr.includes("Server listening on")) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the sshd of ${host} did not start within 20 s:\n${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    host,
    root,
    port,
    knownHost,
    log: () => stderr,
    stop: async () => {
      // unshare --fork ignores SIGTERM while it waits; killed, it takes the
      // namespace's PID 1 with it (--kill-child), and the kernel the rest.
      if (!exited) child.kill("SIGKILL");
      await closed;
    },
  };
}

/** True when something is mounted at or below `dir` in this mount namespace (then it must not be removed). */
export function mountedBelow(dir: string): boolean {
  const r = spawnSync("findmnt", ["-rn", "-o", "TARGET"], { encoding: "utf8" });
  const targets = (r.stdout ?? "").split("\n").map((t) => t.replace(/\\x20/g, " "));
  return targets.some((t) => t === dir || t.startsWith(`${dir}/`));
}
