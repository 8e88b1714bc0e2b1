// The first program a host runs: a POSIX sh script (dash, busybox sh, bash),
// given as `sh -c <script>` with its inputs as arguments, run as the login
// user or, with sudo, as root. It decides what runs the helper and tells the
// local side on one status line, before anything reads stdin:
//
//   safcm-bootstrap: run host <version> -            then exec the host's node
//   safcm-bootstrap: run bundled <version> present   then exec the installed runtime
//   safcm-bootstrap: upload <arch>                   then read "<size>\n<bytes>" from stdin,
//     verify, install, and print "run bundled <version> uploaded" and exec it
//   safcm-bootstrap: fail <reason> [<what was found>] and exit
//
// After a "run" line the local side sends the helper bundle, as on a host's
// own Node.js; node starts while that line travels, so the common case costs
// no extra round trip. The runtime directory and every directory above it
// must be owned by root (or the login user) and writable by nobody else; the
// runtime's node binary is trusted only while it is the very file that was
// verified at install time: its inode, size, mtime and ctime, recorded then in
// a file beside it, must be unchanged (any write or replacement changes the
// ctime, which nobody but root, through the clock, can set).
//
// Several syncs may find the runtime missing at once and all upload it. Each
// installs under an exclusive flock(1) on $base/.lock (util-linux, present
// wherever glibc is; without it the last rename may fail and that sync with
// it): the first renames its verified copy into place, the others find a
// valid runtime there and run it. Only a runtime that is not valid is ever
// moved away. The helper never inherits the lock.

export const STATUS_PREFIX = "safcm-bootstrap: ";

/** Exit status of the script after a "fail" line. */
export const EXIT_BOOTSTRAP_FAIL = 96;

// Written as String.raw with every "${" escaped as "\${" (a template would
// interpolate it); the escapes are removed here.
export const BOOTSTRAP_SH = String.raw`set -f
umask 022
mode=$1 node=$2 ver=$3 sha_x64=$4 sha_arm64=$5 len=$6 js=$7
say() { printf 'safcm-bootstrap: %s\n' "$*"; }
fail() { say fail "$@"; exit 96; }
run() { say run "$1" "$2" "$3"; exec "$4" -e "$js" "$len" 9>&-; }
hostnode() {
  command -v "$node" >/dev/null 2>&1 || return 1
  hv=$("$node" --version 2>/dev/null) || return 1
  m=\${hv#v}; m=\${m%%.*}
  case $m in ''|*[!0-9]*) return 2;; esac
  [ "$m" -ge 18 ] || return 2
}
if [ "$mode" != bundled ]; then
  hostnode; r=$?
  [ $r = 0 ] && run host "\${hv#v}" - "$node"
  if [ "$mode" = host ]; then
    [ $r = 1 ] && fail nonode "$node"
    fail oldnode "$hv"
  fi
fi
m=$(uname -m 2>/dev/null) || fail tool uname
case $m in
  x86_64|amd64) arch=x64 sha=$sha_x64 ;;
  aarch64|arm64) arch=arm64 sha=$sha_arm64 ;;
  *) fail arch "$m" ;;
esac
if lv=$(getconf GNU_LIBC_VERSION 2>/dev/null); then
  n=\${lv##* }; maj=\${n%%.*}; min=\${n#*.}; min=\${min%%[!0-9]*}
  case $maj in ''|*[!0-9]*) fail libc "$lv";; esac
  case $min in ''|*[!0-9]*) fail libc "$lv";; esac
  if [ "$maj" -lt 2 ] || { [ "$maj" -eq 2 ] && [ "$min" -lt 28 ]; }; then fail glibc "$n"; fi
else
  case $(ldd --version 2>&1) in *musl*) fail musl;; esac
  fail libc unknown
fi
for t in id ls stat cat head wc sha512sum tar gzip mktemp mkdir mv rm chmod; do
  command -v $t >/dev/null 2>&1 || fail tool $t
done
uid=$(id -u)
if [ "$uid" = 0 ]; then base=/var/lib/safcm/runtime
else
  case $HOME in /*) base=$HOME/.cache/safcm/runtime;; *) fail home;; esac
fi
dir=$base/$ver-$arch
safe() {
  [ -e "$1" ] || [ -L "$1" ] || return 1
  { [ -d "$1" ] && [ ! -L "$1" ]; } || return 2
  set -- $(ls -ldn "$1") || return 2
  case $1 in d????-??-*) ;; *) return 2;; esac
  [ "$3" = 0 ] || [ "$3" = "$uid" ] || return 2
}
safefile() {
  { [ -f "$1" ] && [ ! -L "$1" ]; } || return 1
  set -- $(ls -ln "$1") || return 1
  case $1 in -????-??-*) ;; *) return 1;; esac
  [ "$3" = 0 ] || [ "$3" = "$uid" ]
}
walk() {
  p= rest=\${dir#/} missing=
  safe / || fail unsafe /
  while [ -n "$rest" ]; do
    p=$p/\${rest%%/*}
    case $rest in */*) rest=\${rest#*/};; *) rest=;; esac
    safe "$p"; r=$?
    [ $r = 2 ] && fail unsafe "$p"
    [ $r = 1 ] && { missing=$p; return; }
  done
}
stamp() { stat -c '%i %s %Y %Z' "$1"; }
installed() {
  walk
  [ -z "$missing" ] && safefile "$dir/node" && safefile "$dir/verified" &&
    [ "$(cat "$dir/verified")" = "$sha $(stamp "$dir/node")" ]
}
installed && run bundled "$ver" present "$dir/node"
say upload "$arch"
IFS= read -r size || fail short
case $size in ''|*[!0-9]*) fail short;; esac
mkdir -p "$base" || fail install "$base"
walk
tmp=$(mktemp -d "$base/.upload.XXXXXX") || fail install "$base"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE
head -c "$size" > "$tmp/pkg" || fail short
[ "$(wc -c < "$tmp/pkg")" -eq "$size" ] || fail short
sum=$(sha512sum "$tmp/pkg") || fail verify
[ "\${sum%% *}" = "$sha" ] || fail verify
tar -xzOf "$tmp/pkg" package/bin/node > "$tmp/node" || fail extract
rm -f "$tmp/pkg"
chmod 755 "$tmp/node" "$tmp" || fail install "$dir"
printf '%s %s\n' "$sha" "$(stamp "$tmp/node")" > "$tmp/verified" || fail install "$dir"
if command -v flock >/dev/null 2>&1; then
  exec 9>>"$base/.lock" && flock 9 || fail install "$base/.lock"
fi
if installed; then
  rm -rf "$tmp"; trap - EXIT
  run bundled "$ver" present "$dir/node"
fi
if [ -e "$dir" ] || [ -L "$dir" ]; then
  mv "$dir" "$base/.old.$$" && rm -rf "$base/.old.$$" || fail install "$dir"
fi
mv "$tmp" "$dir" || fail install "$dir"
trap - EXIT
run bundled "$ver" uploaded "$dir/node"
`.replaceAll("\\${", "${");
