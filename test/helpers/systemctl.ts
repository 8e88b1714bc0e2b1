// A stand-in for systemctl, because systemd cannot run as PID 1 here (SPEC 9).
// It is a small Node.js program written into a directory that the test puts
// first on PATH; it keeps the units' state in a JSON file, records every call
// in a log file and answers like systemd 252 does for the commands the helper
// uses: is-system-running, show --property=..., daemon-reload, start, stop,
// enable, disable, mask. A unit whose file state is "masked" loads as masked.

import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface StandInUnit {
  /** ActiveState: "active", "inactive", "failed", ... */
  active: string;
  /** UnitFileState: "enabled", "disabled", "static", ... */
  file: string;
  /** `systemctl start` fails (exit status 1) with a message. */
  failStart?: boolean;
}

export interface StandInState {
  /** What `systemctl is-system-running` prints (default "running"). */
  system?: string;
  /** By unit id ("nginx.service"); any other unit is LoadState=not-found. */
  units: Record<string, StandInUnit>;
}

export interface StandIn {
  /** The directory to put first on PATH. */
  bin: string;
  /** Every call so far, its arguments joined by spaces. */
  calls(): string[];
  /** The calls that change something (everything but show and is-system-running). */
  changing(): string[];
  state(): StandInState;
}

const PROGRAM = String.raw`
const fs = require("node:fs");
const [STATE, LOG] = [__STATE__, __LOG__];
const args = process.argv.slice(2);
fs.appendFileSync(LOG, args.join(" ") + "\n");
const state = JSON.parse(fs.readFileSync(STATE, "utf8"));
const [verb, ...units] = args.filter((a) => !a.startsWith("-"));
const props = (args.find((a) => a.startsWith("--property=")) ?? "--property=").slice(11).split(",");
const id = (u) => (/\.[a-z]+$/.test(u) ? u : u + ".service");
const save = () => fs.writeFileSync(STATE, JSON.stringify(state));
switch (verb) {
  case "is-system-running": {
    const s = state.system ?? "running";
    console.log(s);
    process.exit(s === "running" ? 0 : 1);
  }
  case "show": {
    const blocks = units.map((u) => {
      const unit = state.units[id(u)];
      // systemd prints the properties in its own order, not the requested one
      const all = {
        Id: id(u),
        ActiveState: unit ? unit.active : "inactive",
        LoadState: unit ? (unit.file === "masked" ? "masked" : "loaded") : "not-found",
        UnitFileState: unit ? unit.file : "",
      };
      return Object.entries(all).filter(([k]) => props.includes(k)).map(([k, v]) => k + "=" + v).join("\n") + "\n";
    });
    process.stdout.write(blocks.join("\n"));
    process.exit(0);
  }
  case "daemon-reload":
    process.exit(0);
  case "start":
  case "stop":
  case "enable":
  case "disable":
  case "mask": {
    for (const u of units) {
      const unit = state.units[id(u)];
      if (!unit) {
        console.error("Failed to " + verb + " " + id(u) + ": Unit " + id(u) + " not found.");
        process.exit(5);
      }
      if (verb === "start" && unit.file === "masked") {
        console.error("Failed to start " + id(u) + ": Unit " + id(u) + " is masked.");
        process.exit(1);
      }
      if (verb === "start" && unit.failStart) {
        console.error("Job for " + id(u) + " failed because the control process exited with error code.");
        process.exit(1);
      }
      if (verb === "start") unit.active = "active";
      else if (verb === "stop") unit.active = "inactive";
      else if (verb === "enable") {
        unit.file = "enabled";
        console.error("Created symlink /etc/systemd/system/multi-user.target.wants/" + id(u) + " \u2192 /lib/systemd/system/" + id(u) + ".");
      } else if (verb === "disable") {
        unit.file = "disabled";
        console.error("Removed \"/etc/systemd/system/multi-user.target.wants/" + id(u) + "\".");
      } else {
        unit.file = "masked";
        console.error("Created symlink /etc/systemd/system/" + id(u) + " \u2192 /dev/null.");
      }
    }
    save();
    process.exit(0);
  }
  default:
    console.error("stand-in systemctl: unsupported call: " + args.join(" "));
    process.exit(1);
}
`;

/** Writes the stand-in into `dir` (which must exist) with the given units. */
export function standInSystemctl(dir: string, initial: StandInState): StandIn {
  const statePath = join(dir, "systemctl-state.json");
  const logPath = join(dir, "systemctl-calls.log");
  writeFileSync(statePath, JSON.stringify(initial));
  writeFileSync(logPath, "");
  const program = `#!${process.execPath}\n${PROGRAM.replace("__STATE__", JSON.stringify(statePath)).replace("__LOG__", JSON.stringify(logPath))}`;
  const bin = join(dir, "bin");
  writeFileSync(join(dir, "package.json"), '{"type": "commonjs"}\n');
  mkdirSync(bin, { mode: 0o755 });
  writeFileSync(join(bin, "systemctl"), program);
  chmodSync(join(bin, "systemctl"), 0o755);
  const calls = () => readFileSync(logPath, "utf8").split("\n").filter(Boolean);
  return {
    bin,
    calls,
    changing: () => calls().filter((c) => !/^(show|is-system-running)\b/.test(c)),
    state: () => JSON.parse(readFileSync(statePath, "utf8")) as StandInState,
  };
}
