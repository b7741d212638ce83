#!/usr/bin/env bash
# OpenStack's own API tests (Debian's Tempest 33, through the shared harness
# ../shared/conformance/tempest/run.sh) against a fresh Homestack, compared with the
# committed known failures (conformance/known-failures/<list>.txt). As root, after
# `npm run build`:
#
#   scripts/conformance.sh                      # identity, image, network, volume (the CI stage)
#   scripts/conformance.sh --list compute       # compute, with the test image as --image-ref
#   scripts/conformance.sh --all                # the five lists
#   scripts/conformance.sh --list image -- --regex 'image\.v2\.test_images_tags'   # run.sh options after --
#
# Options: --list NAME (repeatable), --all, --with-compute (the API lists with compute
# claimed too: their server tests then boot the test image), --aio (test the running
# all-in-one instead of a cloud of its own; hold /work/locks/aio.lock or equivalent),
# --out DIR (workspaces, default build/conformance), --keep-cloud (leave it up),
# -- ARGS (passed to run.sh). Environment: TEMPEST_HARNESS (the harness directory),
# ACC_GUEST_IMAGE (the bootable image, default build/test-image/homestack-guest.qcow2).
#
# The cloud (scripts/conformance/cloud.ts): a controller and one agent (compute, network,
# volume) of its own in network namespaces, with their own libvirtd, OVS and tgtd, as
# the system tests start them, so it runs beside the all-in-one and other tests.
#
# Fails when a test outside the known-failures file fails (or a list could not run);
# reports tests of the file that pass now. Ends with one line per list:
#   <list>: N passed, N failed, N skipped (<seconds> s; ...)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

LISTS=() WITH_COMPUTE=no AIO=no OUT=$REPO/build/conformance KEEP=no EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
  --list) LISTS+=("$2"); shift ;;
  --all) LISTS=(identity image network volume compute) ;;
  --with-compute) WITH_COMPUTE=yes ;;
  --aio) AIO=yes ;;
  --out) OUT=$2; shift ;;
  --keep-cloud) KEEP=yes ;;
  --) shift; EXTRA=("$@"); break ;;
  -h | --help) sed -n '2,/^set -uo/p' "$0" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
  *) echo "conformance: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#LISTS[@]} -gt 0 ] || LISTS=(identity image network volume)
[ "$(id -u)" -eq 0 ] || { echo "conformance: run as root" >&2; exit 2; }

# The harness: $TEMPEST_HARNESS, else ../shared beside the checkout (as the acceptance
# scripts are reached), else the machine's /work/shared (a fresh clone elsewhere, as CI's).
HARNESS=${TEMPEST_HARNESS:-}
for d in "$REPO/../shared/conformance/tempest" /work/shared/conformance/tempest; do
  [ -n "$HARNESS" ] && break
  [ -x "$d/run.sh" ] && HARNESS=$(cd "$d" && pwd)
done
[ -n "$HARNESS" ] && [ -x "$HARNESS/run.sh" ] || { echo "conformance: no harness (set TEMPEST_HARNESS)" >&2; exit 2; }
[ -f dist/controller/main.js ] || { echo "conformance: no build (npm run build)" >&2; exit 2; }

needs_compute() { [ "$1" = compute ] || [ $WITH_COMPUTE = yes ]; }
# The test image is [compute] image_ref for every list: the volume list makes volumes from
# it too (with image_ref unset those tests read GET /v2/images/ and fail for that reason).
IMAGE=${ACC_GUEST_IMAGE:-$REPO/build/test-image/homestack-guest.qcow2}
if [ ! -f "$IMAGE" ]; then
  scripts/build-test-image.sh || { echo "conformance: could not build the test image" >&2; exit 2; }
fi

t0=$(date +%s)
mkdir -p "$OUT"
ENV_FILE="" RUN_ID="" NSEXEC=()
stop_cloud() {
  if [ -n "$RUN_ID" ] && [ $KEEP = no ]; then
    echo "conformance: stopping cloud $RUN_ID" >&2
    npx tsx scripts/conformance/cloud.ts down "$RUN_ID" >&2
  fi
}
trap stop_cloud EXIT
trap 'exit 130' INT TERM
IMG_ARGS=(--image "$IMAGE")
if [ $AIO = yes ]; then
  [ -f /etc/homestack/admin-openrc.sh ] || { echo "conformance: no all-in-one (scripts/aio.sh)" >&2; exit 2; }
  ENV_FILE=$OUT/aio.env
  (. /etc/homestack/admin-openrc.sh && npx tsx scripts/conformance/cloud.ts prepare "$ENV_FILE" "${IMG_ARGS[@]}") ||
    { echo "conformance: could not prepare the all-in-one" >&2; exit 2; }
else
  ENV_FILE=$(npx tsx scripts/conformance/cloud.ts up "${IMG_ARGS[@]}" | tail -n 1)
  [ -f "$ENV_FILE" ] || { echo "conformance: the cloud did not come up" >&2; exit 2; }
  RUN_ID=$(sed -n 's/^CLOUD_RUN=//p' "$ENV_FILE")
  NSEXEC=(ip netns exec "$(sed -n 's/^CLOUD_NS=//p' "$ENV_FILE")")
fi
# shellcheck disable=SC1090
. "$ENV_FILE"
echo "conformance: cloud ready after $(($(date +%s) - t0)) s; harness $HARNESS; workspaces in $OUT" >&2

# What the cloud advertises, as a deployment's tempest.conf carries it: the microversion
# ranges (run.sh leaves max_microversion unset, and then every test that needs one skips)
# and the network extensions (run.sh's api_extensions = all makes Tempest assume dvr,
# extraroute, metering… exist; with the list, tests of extensions not claimed skip).
cat >"$OUT/advertised.ini" <<EOF
[compute]
max_microversion = ${COMPUTE_MICROVERSIONS#* }
[volume]
max_microversion = ${VOLUME_MICROVERSIONS#* }
[network-feature-enabled]
api_extensions = ${NETWORK_EXTENSIONS:-all}
EOF

rc=0 SUMMARY=()
for l in "${LISTS[@]}"; do
  ws=$OUT/$l
  rm -rf "$ws"
  services=identity,image,network,volume
  needs_compute "$l" && services=identity,image,compute,network,volume
  refs=(--image-ref "$IMAGE_REF" --image-ref-alt "$IMAGE_REF_ALT" --flavor-ref "$FLAVOR_REF" --flavor-ref-alt "$FLAVOR_REF_ALT")
  echo "== $l (services $services)" >&2
  s0=$(date +%s)
  "${NSEXEC[@]}" "$HARNESS/run.sh" --services "$services" --list "$l" --workspace "$ws" \
    --public-network-id "$PUBLIC_NET" --conf-override "$OUT/advertised.ini" "${refs[@]}" "${EXTRA[@]}" \
    >"$OUT/$l.summary" 2>"$OUT/$l.err"
  hrc=$?
  secs=$(($(date +%s) - s0))
  line=$(tail -n 1 "$OUT/$l.summary")
  if [ $hrc -eq 2 ] || [ ! -s "$ws/selected.txt" ]; then # run.sh: "the harness itself could not run"
    tail -n 20 "$OUT/$l.err" >&2
    rc=1
    SUMMARY+=("$l: $line ($secs s; the harness could not run: $OUT/$l.err)")
    continue
  fi
  grep -E '^run\.sh:' "$OUT/$l.err" >&2
  known=conformance/known-failures/$l.txt
  if ! verdict=$(npx tsx scripts/conformance/report.ts compare --workspace "$ws" --known "$known"); then rc=1; fi
  echo "$verdict" | sed '$d' >&2
  SUMMARY+=("$l: $line ($secs s; $(echo "$verdict" | tail -n 1))")
done

echo >&2
echo "conformance: $(($(date +%s) - t0)) s in all; details: npx tsx scripts/conformance/report.ts failures --workspace $OUT/<list>" >&2
[ $KEEP = yes ] && [ -n "$RUN_ID" ] && echo "conformance: cloud $RUN_ID left up (. $ENV_FILE; ${NSEXEC[*]} ...)" >&2
printf '%s\n' "${SUMMARY[@]}"
exit $rc
