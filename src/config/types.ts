import type { LogLevel } from "../protocol/messages.ts";

export interface GlobalConfig {
  dry_run: boolean;
  log_level: LogLevel;
  detect_groups: string[];
  group_order: string[];
  /** Absolute path, resolved against the configuration directory. */
  ssh_config: string | null;
}

export interface HostConfig {
  name: string;
  ssh_user: string | null;
  connection: "ssh" | "local";
  /** Absolute path ("/" by default); a relative root is resolved against the configuration directory. */
  root: string;
  node: string;
}
