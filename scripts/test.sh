#!/usr/bin/env bash
# The test command (README; .ci/run calls exactly this), as root on Debian 12:
# Debian packages, npm ci, build, system daemons, unit tests, then every system test
# (SYSTEM_TESTS=1: the whole `system` vitest project). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - t0 )) s)"; }

step "Debian packages"
scripts/install-deps.sh

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "build"
npm run --silent build

step "static checks (dependencies: declared, resolvable, no devDependency in product code, no import cycle)"
npm run --silent check:deps

step "system daemons (libvirtd, virtlogd, ovsdb-server, ovs-vswitchd, tgtd)"
# A daemon that cannot start is reported; the system tests that need it say why they skip or fail.
node dist/controller/cli/main.js daemons start || echo "test: some system daemons are not running (see above)"

out=$(mktemp -d)
step "unit tests"
npx vitest run --project unit --reporter=default --reporter=json --outputFile.json="$out/unit.json"

step "test guest image (the compute, network and volume system tests boot it)"
scripts/build-test-image.sh

step "Debian cloud image (scripts/cloud-image/cloud-image.system.test.ts boots it; reused from /var/cache/homestack/cloud-image when its inputs are unchanged)"
scripts/build-cloud-image.sh

step "system tests"
SYSTEM_TESTS=1 npx vitest run --project system --reporter=default --reporter=json --outputFile.json="$out/system.json"

step "fault suite (faults/: restarts, kills, disk full, access matrix, fuzzing, isolation, secrets)"
if [ -n "$(find faults -name '*.test.ts' 2>/dev/null | head -n 1)" ]; then
  SYSTEM_TESTS=1 npx vitest run --project faults --reporter=default --reporter=json --outputFile.json="$out/faults.json"
fi

step "all tests passed"
# One plain closing line for both runs: "N passed, N failed, N skipped".
node -e '
  let p = 0, f = 0, s = 0;
  for (const file of process.argv.slice(1).filter((f) => require("fs").existsSync(f))) {
    const r = JSON.parse(require("fs").readFileSync(file, "utf8"));
    p += r.numPassedTests; f += r.numFailedTests; s += r.numPendingTests + (r.numTodoTests || 0);
  }
  console.log(`${p} passed, ${f} failed, ${s} skipped`);
' "$out/unit.json" "$out/system.json" "$out/faults.json"
rm -rf "$out"
