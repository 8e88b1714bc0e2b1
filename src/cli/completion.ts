// Shell completion (SPEC 4): `safcm completion bash|zsh|fish` prints a small
// script; the script asks `safcm __complete <shell> -- <words>` for the
// candidates of the word under the cursor, so the logic (commands, options,
// log levels, hosts and groups of the configuration directory) lives here
// once, not three times in three shell languages.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import {
  ALL,
  REMOVE_SUFFIX,
  groupNameProblem,
  hostNameProblem,
  isDetectedGroup,
} from "../config/names.ts";
import { COMMAND_NAMES } from "./help.ts";
import { COMMAND_OPTIONS, OPTIONS, type OptionName, type OptionSpec } from "./options.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** The line that asks the shell to complete directory names itself. */
export const DIRS = ":dirs";

const ARCHS = ["x64", "arm64"];
/** hosts.yaml or groups.yaml larger than this are not read for completion. */
const MAX_YAML_BYTES = 4 * 1024 * 1024;

const BASH = `# safcm completion for bash (plain bash; the bash-completion package is not needed).
# Install: add this line to ~/.bashrc:  eval "$(safcm completion bash)"
_safcm() {
    local cur=\${COMP_WORDS[COMP_CWORD]} out IFS=$'\\n'
    out=$(command "\${COMP_WORDS[0]}" __complete bash -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
    if [[ $out == ${DIRS} ]]; then
        [[ $cur == = ]] && cur=
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -d -- "$cur"))
    else
        COMPREPLY=($out)
    fi
}
complete -F _safcm safcm
`;

const ZSH = `#compdef safcm
# safcm completion for zsh.
# Install: add this line to ~/.zshrc after compinit:  eval "$(safcm completion zsh)"
# (or save it as _safcm in a directory of $fpath).
_safcm() {
    local -a out
    out=(\${(f)"$(command \${words[1]} __complete zsh -- "\${(@)words[2,CURRENT]}" 2>/dev/null)"})
    if [[ \${out[1]} == ${DIRS} ]]; then
        compset -P '*='
        _files -/
    else
        compadd -- "\${(@)out}"
    fi
}
if [[ \${funcstack[1]} == _safcm ]]; then
    _safcm "$@"
else
    compdef _safcm safcm
fi
`;

const FISH = `# safcm completion for fish.
# Install: safcm completion fish > ~/.config/fish/completions/safcm.fish
function __safcm_complete
    set -l tokens (commandline -opc)
    set -l out (command $tokens[1] __complete fish -- $tokens[2..-1] (commandline -ct) 2>/dev/null)
    if test "$out[1]" = ${DIRS}
        __fish_complete_directories (commandline -ct)
    else
        printf '%s\\n' $out
    end
end
complete -c safcm -f -a '(__safcm_complete)'
`;

export function completionScript(shell: string): string | null {
  switch (shell) {
    case "bash":
      return BASH;
    case "zsh":
      return ZSH;
    case "fish":
      return FISH;
    default:
      return null;
  }
}

/**
 * The candidates for the last of `words` (the words after "safcm", the last
 * being the one under the cursor, possibly empty). bash splits
 * `--log-level=de` into `--log-level`, `=`, `de` and then wants the value
 * alone; zsh and fish keep the word whole and want it whole.
 */
export function completions(shell: Shell, words: readonly string[]): string[] {
  const { joined, splitAtEquals } = joinEquals(words);
  const cur = joined.at(-1) ?? "";
  const before = joined.slice(0, -1);
  const found = candidates(before, cur);
  if (found.length === 1 && found[0] === DIRS) return found;
  const matching = found.filter((c) => c.startsWith(cur));
  if (shell === "bash" && splitAtEquals) return matching.map((c) => c.slice(c.indexOf("=") + 1));
  return matching;
}

function candidates(before: readonly string[], cur: string): string[] {
  if (before.length === 0) return [...COMMAND_NAMES, "--version", "--help"];
  const [command, ...rest] = before;
  switch (command) {
    case "help":
      return rest.length === 0 ? COMMAND_NAMES : [];
    case "completion":
      return rest.length === 0 ? [...SHELLS] : [];
    case "runtime":
      if (rest.length === 0) return ["fetch"];
      return rest.length === 1 && rest[0] === "fetch" ? ARCHS : [];
    case "sync":
    case "check":
    case "fixperms":
      return optionCandidates(command, rest, cur);
    default:
      return [];
  }
}

function optionCandidates(
  command: keyof typeof COMMAND_OPTIONS,
  before: readonly string[],
  cur: string,
): string[] {
  const allowed: readonly OptionName[] = COMMAND_OPTIONS[command];
  if (before.includes("--")) return command === "fixperms" ? [] : targetNames(before);
  const eq = cur.startsWith("--") ? cur.indexOf("=") : -1;
  if (eq > 0) {
    const name = cur.slice(2, eq);
    return valuesOf(name).map((v) => (v === DIRS ? v : `--${name}=${v}`));
  }
  const prev = before.at(-1);
  const prevName = prev === undefined ? undefined : optionTakingValue(prev);
  if (prevName !== undefined) return valuesOf(prevName);
  if (cur.startsWith("-")) return allowed.map((name) => `--${name}`);
  return command === "fixperms" ? [] : targetNames(before);
}

/** The option name when `word` is an option that takes its value from the next word. */
function optionTakingValue(word: string): string | undefined {
  for (const [name, spec] of Object.entries(OPTIONS) as [string, OptionSpec][]) {
    if (spec.value === undefined) continue;
    if (word === `--${name}` || (spec.short !== undefined && word === `-${spec.short}`)) {
      return name;
    }
  }
  return undefined;
}

function valuesOf(name: string): string[] {
  if (name === "dir") return [DIRS];
  const spec = (OPTIONS as Record<string, OptionSpec | undefined>)[name];
  return [...(spec?.values ?? [])];
}

/** Hosts and groups of the configuration directory named by -C (or the current one). */
function targetNames(before: readonly string[]): string[] {
  let dir = ".";
  for (let i = 0; i < before.length; i++) {
    const w = before[i];
    if ((w === "-C" || w === "--dir") && i + 1 < before.length) dir = before[++i];
    else if (w.startsWith("--dir=")) dir = w.slice("--dir=".length);
    else if (w.startsWith("-C") && w.length > 2) dir = w.slice(2);
  }
  if (dir === "~" || dir.startsWith("~/")) dir = homedir() + dir.slice(1);
  const given = new Set(before);
  return configNames(dir).filter((n) => !given.has(n));
}

/** Rejoins bash's `--opt`, `=`, `value` into `--opt=value`. */
function joinEquals(words: readonly string[]): { joined: string[]; splitAtEquals: boolean } {
  const joined: string[] = [];
  let splitAtEquals = false;
  for (let i = 0; i < words.length; i++) {
    const prev = joined.at(-1);
    if (words[i] === "=" && prev !== undefined && prev.startsWith("--") && !prev.includes("=")) {
      joined[joined.length - 1] = `${prev}=${i + 1 < words.length ? words[++i] : ""}`;
      splitAtEquals = true;
    } else joined.push(words[i]);
  }
  return { joined, splitAtEquals };
}

/**
 * The host and group names of a configuration directory, read leniently:
 * whatever can be made out of hosts.yaml, groups.yaml and the detected_<x>
 * directories, never an error (a broken configuration still completes).
 */
export function configNames(dir: string): string[] {
  const names = new Set<string>([ALL]);
  const hosts = readYaml(join(dir, "hosts.yaml"));
  if (Array.isArray(hosts)) {
    for (const h of hosts as unknown[]) {
      const name = isRecord(h) ? h.name : undefined;
      if (typeof name === "string" && hostNameProblem(name) === undefined) names.add(name);
    }
  }
  const groups = readYaml(join(dir, "groups.yaml"));
  if (isRecord(groups)) {
    for (const [group, members] of Object.entries(groups)) {
      if (!group.endsWith(REMOVE_SUFFIX) && groupNameProblem(group) === undefined) {
        names.add(group);
      }
      if (!Array.isArray(members)) continue;
      for (const m of members as unknown[]) {
        if (typeof m === "string" && isDetectedGroup(m)) names.add(m);
      }
    }
  }
  try {
    for (const entry of readdirSync(dir)) if (isDetectedGroup(entry)) names.add(entry);
  } catch {
    // no directory: the names found so far
  }
  return [...names].sort();
}

/** A YAML file's data, or null when it is missing, not a regular file, huge or broken. */
export function readYaml(path: string): unknown {
  try {
    const st = statSync(path);
    // Never a FIFO or a device (completion must not hang), nor anything huge.
    if (!st.isFile() || st.size > MAX_YAML_BYTES) return null;
    return parseDocument(readFileSync(path, "utf8"), { logLevel: "silent" }).toJS();
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
