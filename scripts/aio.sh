#!/usr/bin/env bash
# The all-in-one cloud on this machine, as root on Debian 12:
#   scripts/aio.sh [--bare]  # = up: packages, npm ci, build, daemons, configs, admin, controller + agent,
#                            #   then flavors, the test image, the demo project, user and network
#                            #   (--bare: none of those, and no test image build)
#   scripts/aio.sh down      # stops exactly what `up` started
#   scripts/aio.sh status
# Re-running `up` reuses configs, credentials, the admin password and the database.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
cmd=${1:-up}
bare=()
if [ "$cmd" = --bare ]; then cmd=up; bare=(--bare); fi
if [ "$cmd" = up ] && [ "${2:-}" = --bare ]; then bare=(--bare); fi

if [ "$(id -u)" -ne 0 ]; then echo "aio: run as root" >&2; exit 1; fi

if [ "$cmd" = up ]; then
  t0=$(date +%s)
  command -v node >/dev/null || { echo "aio: Node.js >= 20 is required (node not found)" >&2; exit 1; }
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || { echo "aio: Node.js >= 20 is required (found $(node -v))" >&2; exit 1; }
  command -v npm >/dev/null || { echo "aio: npm is required (it comes with Node.js)" >&2; exit 1; }
  scripts/install-deps.sh
  # The test guest is built (or found up to date) while npm ci and the build run: it
  # mostly waits on the Debian archive and on disk, they on the CPU.
  image_pid=
  if [ ${#bare[@]} -eq 0 ]; then
    mkdir -p build
    scripts/build-test-image.sh > build/aio-test-image.log 2>&1 &
    image_pid=$!
  fi
  # npm ci only when the lock file changed since the last install.
  lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f node_modules/.homestack-lock ] || [ "$(cat node_modules/.homestack-lock)" != "$lock_sum" ]; then
    echo "aio: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_sum" > node_modules/.homestack-lock
  fi
  echo "aio: build"
  npm run --silent build
  if [ -n "$image_pid" ]; then
    if wait "$image_pid"; then
      echo "aio: test image: $(tail -n 1 build/aio-test-image.log | sed 's/^\[[^]]*\] //')"
    else
      echo "aio: building the test image failed (build/aio-test-image.log):" >&2
      tail -n 5 build/aio-test-image.log >&2
      exit 1
    fi
  fi
  node dist/controller/cli/main.js aio up "${bare[@]}"
  echo "aio: total $(( $(date +%s) - t0 )) s"
  node dist/controller/cli/main.js host list
else
  [ -f dist/controller/cli/main.js ] || { echo "aio: not built yet (run scripts/aio.sh first)" >&2; exit 1; }
  node dist/controller/cli/main.js aio "$cmd"
fi
