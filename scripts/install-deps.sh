#!/usr/bin/env bash
# Installs the Debian 12 packages Homestack needs, as root. Idempotent: apt runs only
# when something is missing. Log: /var/log/homestack/apt.log.
#   scripts/install-deps.sh            # runtime + build + test packages
set -euo pipefail

# Every group of scripts/debian-packages.txt (the same list `homestack host add` uses per role).
mapfile -t PKGS < <(sed -e 's/#.*//' "$(dirname "$0")/debian-packages.txt" | awk 'NF > 1 { for (i = 2; i <= NF; i++) print $i }' | sort -u)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} Debian packages present"
  exit 0
fi

mkdir -p /var/log/homestack
log=/var/log/homestack/apt.log
echo "install-deps: installing ${missing[*]} (log: $log)"
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
# In a container without systemd, package scripts must not try to start services.
policy_added=0
if [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_added=1
fi
trap '[ "$policy_added" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
{
  apt-get -q -o DPkg::Lock::Timeout=600 update
  apt-get -y -q -o DPkg::Lock::Timeout=600 install --no-install-recommends "${missing[@]}"
} >>"$log" 2>&1 || { echo "install-deps: apt-get failed; last lines of $log:" >&2; tail -n 30 "$log" >&2; exit 1; }
echo "install-deps: done in $(( $(date +%s) - t0 )) s"
