#!/usr/bin/env bash
# The test command (README; .ci/run calls exactly this), as root on Debian 12:
# Debian packages, npm ci, build, static checks (dependencies, type-check, format), system daemons,
# unit tests, then every system test (SYSTEM_TESTS=1: the whole `system` vitest
# project), the fault suite, then OpenStack's own API tests on the identity, image, network
# and volume lists (scripts/conformance.sh). Exits non-zero on any failure, and on any
# skipped test that scripts/allowed-skips.txt does not name (scripts/check-skips.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - t0 )) s)"; }

# Goldens are rewritten only on purpose, by hand, never by the run that judges them.
if [ -n "${UPDATE_GOLDEN:-}" ]; then
  echo "test: UPDATE_GOLDEN is set: refused (rewrite goldens with a single vitest run, review the diff, then run this)" >&2
  exit 2
fi

step "Debian packages"
scripts/install-deps.sh

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "build"
npm run --silent build

step "static checks (dependencies: declared, resolvable, no devDependency in product code, no import cycle; npm run typecheck: tests, faults/ and scripts/ too; npm run format:check)"
npm run --silent check:deps
npm run --silent typecheck
npm run --silent format:check

step "system daemons (libvirtd, virtlogd, ovsdb-server, ovs-vswitchd, tgtd)"
# A daemon that cannot start is reported; the system tests that need it say why they skip or fail.
node dist/controller/cli/main.js daemons start || echo "test: some system daemons are not running (see above)"

out=$(mktemp -d)
step "unit tests"
npx vitest run --project unit --reporter=default --reporter=json --outputFile.json="$out/unit.json"
npx tsx scripts/check-skips.ts unit "$out/unit.json"

step "test guest image (the compute, network and volume system tests boot it)"
scripts/build-test-image.sh

step "Debian cloud image (scripts/cloud-image/cloud-image.system.test.ts boots it; reused from /var/cache/homestack/cloud-image when its inputs are unchanged)"
scripts/build-cloud-image.sh

step "system tests"
SYSTEM_TESTS=1 npx vitest run --project system --reporter=default --reporter=json --outputFile.json="$out/system.json"
npx tsx scripts/check-skips.ts system "$out/system.json"

step "fault suite (faults/: restarts, kills, disk full, access matrix, fuzzing, isolation, secrets)"
if [ -n "$(find faults -name '*.test.ts' 2>/dev/null | head -n 1)" ]; then
  SYSTEM_TESTS=1 npx vitest run --project faults --reporter=default --reporter=json --outputFile.json="$out/faults.json"
  npx tsx scripts/check-skips.ts faults "$out/faults.json"
fi

step "conformance: Tempest's identity, image, network and volume API lists (conformance/README.md)"
# A cloud of its own in namespaces; fails on a test failing outside conformance/known-failures/.
scripts/conformance.sh   # workspaces (run.log, tempest.log) stay in build/conformance/<list>

step "all tests passed"
# One plain closing line for the three runs, "N passed, N failed, N skipped (…)", then
# the allowed skips with their reasons.
npx tsx scripts/check-skips.ts --summary "$out/unit.json" "$out/system.json" "$out/faults.json"
rm -rf "$out"
