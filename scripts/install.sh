#!/bin/sh
# Installs the safcm command from this clone, as `npm install -g` of the package that
# `npm pack` makes: a copy, so the clone may be moved or removed afterwards. Needs only
# Node.js >= 20 and npm (the test set-up, with the system packages the tests need, is
# scripts/setup.sh). npm's settings apply: npm_config_prefix=DIR installs into DIR.
set -eu
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
# The build's tools (devDependencies) into the clone; npm ci's prepare step builds dist/.
npm ci --no-audit --no-fund
npm pack --silent --ignore-scripts --pack-destination "$tmp" >/dev/null
npm install -g --no-audit --no-fund "$tmp"/safcm-*.tgz
echo "installed: $(npm prefix -g)/bin/safcm"
