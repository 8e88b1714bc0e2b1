import { COMMAND_OPTIONS, OPTIONS, type OptionCommand, type OptionSpec } from "./options.ts";

export const USAGE = `usage:
  safcm sync [options] <host|group>...    sync the named hosts and all members of the named groups
  safcm check [options] [<host|group>...] build every named host's configuration locally (no connection)
  safcm fixperms [-C DIR]                 remove group and other write permission in the local files/ trees
  safcm version                           print safcm's version (also: safcm --version, safcm -V)
  safcm help [command]                    show this help or a command's
  safcm completion bash|zsh|fish          print a shell completion script
  safcm runtime fetch [x64|arm64]         fetch the bundled Node.js runtime into the cache

Run "safcm help <command>" for a command's options; the manual is in docs/.`;

const EXIT_STATUS = `exit status: 0 every host synced, 1 a host failed (or with --batch was skipped),
2 usage or configuration error (nothing contacted), 130/143 interrupted`;

/** The option lines of a command's help, from the one table of options. */
function optionLines(command: OptionCommand): string {
  return COMMAND_OPTIONS[command]
    .map((name) => {
      const spec: OptionSpec = OPTIONS[name];
      const short = spec.short === undefined ? "    " : `-${spec.short}, `;
      const left = `${short}--${name}${spec.value === undefined ? "" : ` ${spec.value}`}`;
      return `  ${left.padEnd(26)}${spec.help}`;
    })
    .join("\n");
}

const COMMANDS: Record<string, () => string> = {
  sync: () => `usage: safcm sync [options] <host|group>...

Syncs the named hosts and all members of the named groups: connects to each
host, detects its groups, builds its configuration locally, sends it and
applies it. Reports only what changed.

options:
${optionLines("sync")}

${EXIT_STATUS}`,
  check: () => `usage: safcm check [options] [<host|group>...]

Builds the configuration of every named host (default: all hosts) locally,
templates included, without connecting; detected groups count as not
matching. Lists every error and warning, then one summary line (hosts checked,
warnings, errors). Exit status 0 when everything builds, 2 otherwise.

options:
${optionLines("check")}`,
  fixperms: () => `usage: safcm fixperms [-C DIR]

Removes group and other write permission from every entry of the files/
trees of the configuration directory (sync refuses entries that others could
change). Changes nothing else and never follows a symbolic link. Prints
every change it made.

options:
${optionLines("fixperms")}`,
  version: () => `usage: safcm version    (also: safcm --version, safcm -V)

Prints safcm's version.`,
  help: () => `usage: safcm help [command]

Shows the list of commands, or a command's usage and options. "safcm
<command> --help" does the same.`,
  completion: () => `usage: safcm completion bash|zsh|fish

Prints a script that completes safcm's commands, options, log levels and the
hosts and groups of the configuration directory (-C DIR honoured). Install:

  bash  add to ~/.bashrc:   eval "$(safcm completion bash)"
  zsh   add to ~/.zshrc, after compinit:   eval "$(safcm completion zsh)"
  fish  safcm completion fish > ~/.config/fish/completions/safcm.fish`,
  runtime: () => `usage: safcm runtime fetch [x64|arm64]

Fetches the Node.js runtime that safcm brings to hosts without Node.js >= 18
(default: this machine's architecture) into safcm's cache
($XDG_CACHE_HOME/safcm or ~/.cache/safcm) and verifies its pinned integrity.
A sync fetches it on first need; this command does it ahead of time, e.g.
before going offline.`,
};

/** The commands help knows, for completion. */
export const COMMAND_NAMES = Object.keys(COMMANDS);

export function helpText(command: string | undefined): string | null {
  if (command === undefined) return USAGE;
  return Object.hasOwn(COMMANDS, command) ? COMMANDS[command]() : null;
}
