// A private sshd on 127.0.0.1 for the tests: generated host and client keys,
// a free port, and an ssh client configuration with host aliases. Root's
// ~/.bashrc on these machines is slow; the client key carries
// environment="SHLVL=1" (allowed by PermitUserEnvironment) so that the
// shell start-up is skipped for this key only. The server offers only the
// classic curve25519 key exchange and AES-GCM: OpenSSH's default post-quantum
// exchange (sntrup761x25519) costs about 60 ms of CPU per connection, which the
// hundreds of connections of the suite (the load test alone makes 190) would
// pay for nothing that safcm relies on; safcm leaves algorithms to ssh.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePort } from "./net.ts";
import { descendants } from "./proc.ts";
import { findProgram, requireProgramsForFile } from "./programs.ts";
import { tempDir } from "./tree.ts";

// Every test file that starts an sshd needs these; without them it ends at
// once with one line naming the package.
requireProgramsForFile({
  sshd: "openssh-server",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
});

export interface Sshd {
  /** ssh client configuration with the aliases (Host <alias> -> 127.0.0.1:port). */
  config: string;
  port: number;
  dir: string;
  stop: () => Promise<void>;
}

/** `opensshDefaults`: OpenSSH's own key exchange, ciphers and re-execution, as on a real host
 * (the benchmarks, whose floors must be what users have; see the top of this file). */
export async function startSshd(
  aliases: string[],
  extraConfig = "",
  options: { opensshDefaults?: boolean } = {},
): Promise<Sshd> {
  const tuned = options.opensshDefaults !== true;
  const { dir, cleanup } = tempDir("safcm-sshd-");
  const port = await freePort();
  const hostKey = join(dir, "host_ed25519");
  const clientKey = join(dir, "client_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey]);
  const authorized = join(dir, "authorized_keys");
  writeFileSync(authorized, `environment="SHLVL=1" ${readFileSync(`${clientKey}.pub`, "utf8")}`, {
    mode: 0o600,
  });
  const sshdConfig = join(dir, "sshd_config");
  writeFileSync(
    sshdConfig,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorized}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "PermitUserEnvironment SHLVL",
      ...(tuned ? ["KexAlgorithms curve25519-sha256", "Ciphers aes128-gcm@openssh.com"] : []),
      "MaxStartups 200",
      "MaxSessions 200",
      "LogLevel ERROR",
      extraConfig,
    ].join("\n") + "\n",
  );
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, "utf8")}`);
  const config = join(dir, "ssh_config");
  writeFileSync(
    config,
    aliases
      .map((a) =>
        [
          `Host ${a}`,
          "  HostName 127.0.0.1",
          `  Port ${port}`,
          "  User root",
          `  IdentityFile ${clientKey}`,
          "  IdentitiesOnly yes",
          `  UserKnownHostsFile ${knownHosts}`,
          "  StrictHostKeyChecking yes",
          "  LogLevel ERROR",
        ].join("\n"),
      )
      .join("\n") + "\n",
  );
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  // sshd re-executes itself and so needs its absolute path. -r: a connection is
  // served by a fork of the listener instead of a fresh sshd (about 13 ms less CPU
  // per connection; OpenSSH re-executes for a new address-space layout each time,
  // which a loopback server of a test can do without).
  const sshd: ChildProcess = spawn(
    resolve(findProgram("sshd") ?? "sshd"),
    ["-D", "-e", ...(tuned ? ["-r"] : []), "-f", sshdConfig],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let log = "";
  sshd.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  // Wait until it accepts connections.
  for (let i = 0; ; i++) {
    try {
      execFileSync("ssh", ["-F", config, aliases[0], "true"], { stdio: "pipe", timeout: 10_000 });
      break;
    } catch (err) {
      if (i > 50 || sshd.exitCode !== null)
        throw new Error(`sshd did not start: ${log}`, { cause: err });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    config,
    port,
    dir,
    // Ends the server and every session it still serves: a session left alive (such as
    // the one of an ssh master that connection reuse keeps for 60 s) would keep running
    // after the test, and keep this process waiting on sshd's standard error.
    stop: async () => {
      if (sshd.exitCode === null && sshd.pid !== undefined) {
        const sessions = descendants(sshd.pid);
        const exited = new Promise((r) => sshd.once("exit", r));
        sshd.kill("SIGTERM");
        for (const { pid } of sessions) {
          try {
            process.kill(pid, "SIGTERM");
          } catch {
            // ended meanwhile
          }
        }
        await exited;
      }
      sshd.stderr?.destroy();
      cleanup();
    },
  };
}

/** sshd extra configuration that lets loginUser() users log in with the test key. */
export function loginUsersConfig(names: string[]): string {
  return `Match User ${names.join(",")}\n  AuthorizedKeysFile .ssh/authorized_keys\n`;
}

/**
 * Creates a real unprivileged user (shell /bin/sh, home /home/<name>) that can
 * log in to the test sshd with its client key (give startSshd
 * loginUsersConfig([name]) too). Returns a function that deletes the user.
 */
export function loginUser(sshd: Sshd, name: string): () => void {
  // "*": no password, but not a locked account (sshd refuses those to every key).
  execFileSync("useradd", ["-m", "-s", "/bin/sh", "-p", "*", name]);
  const home = `/home/${name}`;
  mkdirSync(join(home, ".ssh"), { mode: 0o700 });
  writeFileSync(
    join(home, ".ssh/authorized_keys"),
    readFileSync(join(sshd.dir, "client_ed25519.pub")),
  );
  const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8" }));
  const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }));
  chownSync(join(home, ".ssh"), uid, gid);
  chownSync(join(home, ".ssh/authorized_keys"), uid, gid);
  return () => {
    try {
      // -f: even while a session of it is still open (an ssh master of connection reuse).
      execFileSync("userdel", ["-f", "-r", name], { stdio: "ignore" });
    } catch {
      // userdel -r complains about a missing mail spool; the user is gone anyway.
    }
  };
}
