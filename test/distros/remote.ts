// What the harness reads on a managed machine, over plain ssh (the harness's own
// connection, not safcm's): type, mode, owner and content of paths, and dpkg's
// view of packages.

import { spawn } from "node:child_process";
import { shellQuote } from "../../src/transport/bootstrap.ts";
import { finished } from "../helpers/tree.ts";

export interface Ssh {
  config: string;
}

export interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `script` with /bin/sh on `host` (arguments after it as "$@"). */
export function sh(ssh: Ssh, host: string, script: string, args: string[] = []): Promise<Output> {
  const command = ["sh", "-c", shellQuote(script), "sh", ...args.map(shellQuote)].join(" ");
  return finished(
    spawn("ssh", ["-F", ssh.config, host, "--", command], { stdio: ["ignore", "pipe", "pipe"] }),
  );
}

/** Runs `script` on `host` and gives its output; a non-zero exit is an error. */
export async function run(
  ssh: Ssh,
  host: string,
  script: string,
  args: string[] = [],
): Promise<string> {
  const r = await sh(ssh, host, script, args);
  if (r.code !== 0) {
    throw new Error(`on ${host}: \`${script}\` exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

export interface Stat {
  type: "file" | "dir" | "symlink" | "other";
  /** Four octal digits, special bits included. */
  mode: string;
  user: string;
  group: string;
  /** sha256 of a file's content, a symlink's target, "-" for a directory. */
  content: string;
}

const STAT_SCRIPT = `
for p do
  if [ ! -e "$p" ] && [ ! -L "$p" ]; then printf '%s\\tmissing\\n' "$p"; continue; fi
  s=$(stat --printf '%F\\t%a\\t%U\\t%G' -- "$p")
  if [ -L "$p" ]; then x=$(readlink -- "$p")
  elif [ -f "$p" ]; then x=$(sha256sum < "$p" | cut -d' ' -f1)
  else x=-; fi
  printf '%s\\t%s\\t%s\\n' "$p" "$s" "$x"
done
`;

/** Type, mode, owner and content of each path on `host` (null: missing). */
export async function stat(
  ssh: Ssh,
  host: string,
  paths: string[],
): Promise<Map<string, Stat | null>> {
  const out = await run(ssh, host, STAT_SCRIPT, paths);
  const result = new Map<string, Stat | null>();
  for (const line of out.split("\n")) {
    if (line === "") continue;
    const [path, kind, mode, user, group, content] = line.split("\t");
    if (kind === "missing") {
      result.set(path, null);
      continue;
    }
    const type =
      kind === "regular file" || kind === "regular empty file"
        ? "file"
        : kind === "directory"
          ? "dir"
          : kind === "symbolic link"
            ? "symlink"
            : "other";
    result.set(path, { type, mode: mode.padStart(4, "0"), user, group, content });
  }
  return result;
}

/** dpkg's status of each package on `host` ("installed", "not-installed", "config-files" ...). */
export async function packages(
  ssh: Ssh,
  host: string,
  names: string[],
): Promise<Map<string, string>> {
  const r = await sh(
    ssh,
    host,
    `dpkg-query -W -f='\${Package}\\t\${db:Status-Status}\\n' "$@"`,
    names,
  );
  const result = new Map<string, string>(names.map((n) => [n, "not-installed"]));
  for (const line of r.stdout.split("\n")) {
    const [name, status] = line.split("\t");
    if (name !== "" && status !== undefined) result.set(name, status);
  }
  return result;
}
