#!/usr/bin/env bash
# Builds the controller into a scratch directory, starts a throwaway controller on
# 127.0.0.1:${PORT:-8100} with its data under a temporary directory, bootstraps it,
# then runs the identity acceptance script and the identity benchmark against it,
# and stops it. `tls` also starts a second controller on the same data (same database
# and token keys) serving HTTPS on ${PORT}+1 with the cloud CA's certificate, and runs the
# benchmark's token validation and GET /v3/projects against both, alternating, with the
# TLS overhead (issue 17). `tls-acceptance` runs the identity and image acceptance scripts,
# unchanged, against that HTTPS controller (catalog in https://, OS_CACERT and curl's
# CURL_CA_BUNDLE naming the CA). Usage (from the repository root):
#   scripts/bench/identity-run.sh [acceptance|bench|both|tls|tls-acceptance] [bench args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
WHAT=${1:-both}; shift || true
PORT=${PORT:-8100}
ACC_DIR=${ACC_DIR:-/work/shared/acceptance}
OUT=build/identity-run
DATA=$(mktemp -d /tmp/hs-identity-run.XXXXXX)
PW="admin-$RANDOM$RANDOM"
TLS_PORT=$((PORT + 1))
CATALOG_URL=http://127.0.0.1:$PORT
[ "$WHAT" = tls-acceptance ] && CATALOG_URL=https://127.0.0.1:$TLS_PORT

if [ "${REUSE_BUILD:-0}" != 1 ] || [ ! -f "$OUT/controller/main.js" ]; then   # REUSE_BUILD=1: the last build, for runs in a row
  rm -rf "$OUT"
  npx tsc -p tsconfig.json --outDir "$OUT" >/dev/null 2>&1 || true   # others' work in progress may not type-check
fi
[ -f "$OUT/controller/main.js" ] || { echo "build failed: no $OUT/controller/main.js" >&2; exit 1; }
mkdir -p "$OUT/controller/db/migrations" && cp controller/db/migrations/*.sql "$OUT/controller/db/migrations/"
# The dashboard's static files, as `npm run build` copies them (the controller will not start without them).
mkdir -p "$OUT/controller/dashboard/static" && cp controller/dashboard/static/* "$OUT/controller/dashboard/static/"

cat > "$DATA/controller.toml" <<EOF
data_dir = "$DATA"
public_url = "http://127.0.0.1:$PORT"
[listen]
host = "127.0.0.1"
port = $PORT
[log]
level = "warn"
EOF

node --input-type=module -e "
import { loadConfig } from './$OUT/shared/config/load.js';
import { ControllerConfigSchema } from './$OUT/shared/config/controller.js';
import { openDb } from './$OUT/controller/db/open.js';
import { bootstrap } from './$OUT/controller/cli/bootstrap.js';
const config = loadConfig(ControllerConfigSchema, '$DATA/controller.toml');
const db = openDb('$DATA/homestack.db');
await bootstrap(db, config, { adminPassword: '$PW', publicUrl: '$CATALOG_URL' });
db.close();"

HOMESTACK_CONTROLLER_CONFIG="$DATA/controller.toml" node "$OUT/controller/main.js" >"$DATA/controller.log" 2>&1 &
CTL=$!
trap 'kill $CTL 2>/dev/null; wait $CTL 2>/dev/null; rm -rf "$DATA"' EXIT
# Up to a minute to listen (a loaded machine starts Node slowly); its log if it does not.
up() { for _ in $(seq 300); do curl -sf "$@" >/dev/null && return 0; sleep 0.2; done; return 1; }
up "http://127.0.0.1:$PORT/v3" || { echo "controller on $PORT did not start:" >&2; tail -n 5 "$DATA/controller.log" >&2; exit 1; }

if [ "$WHAT" = tls ] || [ "$WHAT" = tls-acceptance ]; then
  sed -e "s|^public_url = .*|public_url = \"https://127.0.0.1:$TLS_PORT\"|" -e "s|^port = .*|port = $TLS_PORT|" \
    "$DATA/controller.toml" > "$DATA/controller-tls.toml"
  printf '[tls]\nenabled = true\n' >> "$DATA/controller-tls.toml"
  HOMESTACK_CONTROLLER_CONFIG="$DATA/controller-tls.toml" node "$OUT/controller/main.js" >"$DATA/controller-tls.log" 2>&1 &
  CTL_TLS=$!
  trap 'kill $CTL $CTL_TLS 2>/dev/null; wait $CTL $CTL_TLS 2>/dev/null; rm -rf "$DATA"' EXIT
  up --cacert "$DATA/pki/ca.pem" "https://127.0.0.1:$TLS_PORT/v3" ||
    { echo "controller on $TLS_PORT did not start:" >&2; tail -n 5 "$DATA/controller-tls.log" >&2; exit 1; }
  if [ "$WHAT" = tls-acceptance ]; then
    export OS_AUTH_URL=https://127.0.0.1:$TLS_PORT/v3 OS_CACERT=$DATA/pki/ca.pem CURL_CA_BUNDLE=$DATA/pki/ca.pem \
      OS_IDENTITY_API_VERSION=3 OS_USERNAME=admin OS_PASSWORD=$PW OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default \
      OS_PROJECT_DOMAIN_NAME=Default
    unset OS_CLOUD
    rc=0
    ACC_SERVICES=${ACC_SERVICES:-"compute image network volumev3"} bash "$ACC_DIR/identity.sh" || rc=1
    bash "$ACC_DIR/image.sh" || rc=1
    exit $rc
  fi
  node "$OUT/scripts/bench/identity.js" --url "http://127.0.0.1:$PORT/v3" --password "$PW" \
    --compare "https://127.0.0.1:$TLS_PORT/v3" --cacert "$DATA/pki/ca.pem" --only 'token validation,GET /v3/projects' "$@"
  exit $?
fi

export OS_AUTH_URL=http://127.0.0.1:$PORT/v3 OS_IDENTITY_API_VERSION=3 OS_USERNAME=admin OS_PASSWORD=$PW \
  OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default
unset OS_CLOUD
rc=0
if [ "$WHAT" = acceptance ] || [ "$WHAT" = both ]; then
  ACC_SERVICES=${ACC_SERVICES:-"compute image network volumev3"} bash "$ACC_DIR/identity.sh" || rc=1
fi
if [ "$WHAT" = bench ] || [ "$WHAT" = both ]; then
  node "$OUT/scripts/bench/identity.js" --url "$OS_AUTH_URL" --password "$PW" --pid "$CTL" "$@" || rc=1
fi
exit $rc
