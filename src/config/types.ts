import type { LogLevel } from "../protocol/messages.ts";

export interface GlobalConfig {
  dry_run: boolean;
  log_level: LogLevel;
  detect_groups: string[];
  /** Shell commands whose `name=value` output lines add facts.<name> (SPEC 3.4). */
  detect_vars: string[];
  group_order: string[];
  /** Absolute path, resolved against the configuration directory. */
  ssh_config: string | null;
  /** Defaults for the hosts.yaml keys of the same names (a host's own key wins); null: not set. */
  ssh_user: string | null;
  sudo: boolean | null;
  runtime: Runtime | null;
  /** Seconds an OpenSSH master stays open after a sync (ControlPersist); 0: off. */
  ssh_persist: number;
  /** Glob patterns of base names that are not part of a files/ tree (SPEC 3.1). */
  ignore: string[];
}

/** What runs the helper (SPEC 3.2): the host's node, safcm's bundled runtime, or either. */
export type Runtime = "auto" | "host" | "bundled";
export const RUNTIMES: readonly Runtime[] = ["auto", "host", "bundled"];

export interface HostConfig {
  name: string;
  ssh_user: string | null;
  connection: "ssh" | "local";
  /** Absolute path ("/" by default); a relative root is resolved against the configuration directory. */
  root: string;
  node: string;
  /** Run the helper through `sudo -n` after logging in. */
  sudo: boolean;
  runtime: Runtime;
}
