#!/bin/sh
# One set-up command for a fresh Debian or Ubuntu machine, run as root from the
# clone: installs every system package the test suite needs, then npm ci.
#   openssh-server/-client  the test sshd on 127.0.0.1 and the ssh client
#   sudo                    hosts reached through `sudo -n`
#   acl                     setfacl/getfacl: ACL attacks staged for real
#   python3                 the attacker's ACL loop (os.setxattr, no process per change)
#   dash, busybox           the bundled-runtime bootstrap under both shells
#   dpkg, apt               real package installs from a local repository
#   gzip                    the compressed runtime upload
#   zsh, fish               the completion scripts run in the real shells
#   btrfs-progs             mkfs.btrfs: new directories on btrfs (directory link count 1)
set -eu
cd "$(dirname "$0")/.."

pkgs="openssh-server openssh-client sudo acl python3 dash busybox dpkg apt gzip zsh fish btrfs-progs ca-certificates"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root to install:$missing" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $missing
fi

npm ci
