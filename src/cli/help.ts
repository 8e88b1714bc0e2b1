export const USAGE = `usage:
  safcm sync [options] <host|group>...    sync the named hosts and all members of the named groups
  safcm check [options] [<host|group>...] build every named host's configuration locally (no connection)
  safcm fixperms [-C DIR]                 make local files/ trees 0644/0755, directories 0755
  safcm runtime fetch [x64|arm64]         fetch the bundled runtime into the cache
  safcm version                           print safcm's version
  safcm help [command]                    show this help or a command's

Run "safcm help sync" for the options.`;

const COMMANDS: Record<string, string> = {
  sync: `usage: safcm sync [options] <host|group>...

Syncs the named hosts and all members of the named groups: connects to each
host, detects its groups, builds its configuration locally, sends it and
applies it. Reports only what changed.

options:
  -n, --dry-run             report what would change, change nothing, run no trigger or command
  -C DIR                    configuration directory (default: the current directory)
  -l, --log-level LEVEL     error, info, verbose, debug or debug2 (overrides config.yaml)
  -j, --jobs N              at most N hosts at once (default 32)
      --json                write one JSON report to standard output instead of the human report
      --color WHEN          auto (default), always or never; auto honours a terminal and NO_COLOR

exit status: 0 every host synced, 1 a host failed, 2 usage or configuration error`,
  check: `usage: safcm check [-C DIR] [<host|group>...]

Builds the configuration of every named host (default: all hosts) locally,
templates included, without connecting; detected groups count as not
matching. Lists every error; exit status 0 when everything builds, 2 otherwise.`,
  fixperms: `usage: safcm fixperms [-C DIR]

Makes the files/ trees of every group directory safe to sync: regular files
0644 (0755 when executable by their owner), directories 0755. Symbolic links
are left alone. Prints every path it changed.`,
  runtime: `usage: safcm runtime fetch [x64|arm64]

Fetches the bundled runtime (the npm package node-linux-<arch> at the version
pinned in safcm) with npm into $XDG_CACHE_HOME/safcm or ~/.cache/safcm and
verifies it, so that later syncs to hosts without Node.js work offline.
Default: this workstation's architecture. Nothing is fetched when the cache
already holds a verified copy.`,
  version: `usage: safcm version

Prints safcm's version.`,
  help: `usage: safcm help [command]`,
};

export function helpText(command: string | undefined): string | null {
  if (command === undefined) return USAGE;
  return COMMANDS[command] ?? null;
}
