#!/usr/bin/env bash
# The all-in-one cloud on this machine, as root on Debian 12:
#   scripts/aio.sh          # = up: packages, npm ci, build, daemons, configs, admin, controller + agent
#   scripts/aio.sh down     # stops exactly what `up` started
#   scripts/aio.sh status
# Re-running `up` reuses configs, credentials, the admin password and the database.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
cmd=${1:-up}

if [ "$(id -u)" -ne 0 ]; then echo "aio: run as root" >&2; exit 1; fi

if [ "$cmd" = up ]; then
  t0=$(date +%s)
  command -v node >/dev/null || { echo "aio: Node.js >= 20 is required (node not found)" >&2; exit 1; }
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || { echo "aio: Node.js >= 20 is required (found $(node -v))" >&2; exit 1; }
  command -v npm >/dev/null || { echo "aio: npm is required (it comes with Node.js)" >&2; exit 1; }
  scripts/install-deps.sh
  # npm ci only when the lock file changed since the last install.
  lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f node_modules/.homestack-lock ] || [ "$(cat node_modules/.homestack-lock)" != "$lock_sum" ]; then
    echo "aio: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_sum" > node_modules/.homestack-lock
  fi
  echo "aio: build"
  npm run --silent build
  node dist/controller/cli/main.js aio up
  echo "aio: total $(( $(date +%s) - t0 )) s"
  node dist/controller/cli/main.js host list
else
  [ -f dist/controller/cli/main.js ] || { echo "aio: not built yet (run scripts/aio.sh first)" >&2; exit 1; }
  node dist/controller/cli/main.js aio "$cmd"
fi
