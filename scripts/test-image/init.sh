#!/bin/sh
# /etc/rc of the Homestack test guest, run by busybox init (PID 1, see inittab):
#   rc start  (sysinit) modules, ACPI power button, DHCP on every NIC, config drive
#             or metadata service, hostname, SSH keys, the UP line, then user_data;
#   rc stop   (shutdown) the DOWN line, then unmount.
# Output goes to /dev/console, which is ttyS0 (console=ttyS0 comes last).
PATH=/sbin:/usr/sbin:/bin:/usr/bin
export PATH
MD=169.254.169.254

log() { echo "homestack: $*"; }

# The label of an ISO 9660 filesystem (primary volume descriptor, sector 16).
iso_label() {
  dd if="$1" bs=2048 skip=16 count=1 2>/dev/null | dd bs=1 skip=40 count=32 2>/dev/null |
    tr -cd 'A-Za-z0-9_.-'
}

find_config_drive() {
  d=$(findfs LABEL=config-2 2>/dev/null) && [ -b "$d" ] && { echo "$d"; return 0; }
  for d in /dev/sr* /dev/vd* /dev/sd*; do
    [ -b "$d" ] && [ "$(iso_label "$d")" = config-2 ] && { echo "$d"; return 0; }
  done
  return 1
}

# md_get PATH FILE: GET from the metadata service (an IP literal, so nc, not wget).
md_get() {
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" "$MD" |
    timeout 10 nc -w 3 "$MD" 80 > /run/md.http 2>/dev/null
  head -n 1 /run/md.http | grep -q '^HTTP/1\.[01] 200' || return 1
  awk 'b { print; next } /^\r?$/ { b = 1 }' /run/md.http > "$2"
}

# The top level of a JSON object on one line: nested arrays and objects become 0.
json_top() {
  tr -d '\n' < "$1" | sed -e 's/^[[:space:]]*//' \
    -e ':a' -e 's/\[[^][]*\]/0/' -e 'ta' -e ':b' -e 's/\(.\){[^{}]*}/\10/' -e 'tb'
}

json_str() { # json_str KEY < flattened json
  sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}

# The values of the "public_keys" object, one per line.
public_keys() {
  tr -d '\n' < "$1" |
    sed -n 's/.*"public_keys"[[:space:]]*:[[:space:]]*{\([^}]*\)}.*/\1/p' |
    grep -o '"[^"]*"[[:space:]]*:[[:space:]]*"[^"]*"' |
    sed -e 's/^"[^"]*"[[:space:]]*:[[:space:]]*"\(.*\)"$/\1/' -e 's/\\n$//' -e 's#\\/#/#g'
}

start() {
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev 2>/dev/null
  mkdir -p /dev/pts /run /tmp /var/log /mnt/config
  mount -t devpts devpts /dev/pts
  mount -t tmpfs -o mode=755 tmpfs /run
  hostname homestack-guest
  log "kernel $(uname -r), loading $(wc -w < /etc/modules) modules"
  for m in $(cat /etc/modules); do modprobe "$m" || log "modprobe $m failed"; done

  # ACPI power button -> busybox acpid -> /etc/acpi/PWRF/00000080 -> poweroff (init does it).
  mkdir -p /etc/acpi/PWRF
  printf '#!/bin/sh\nexec poweroff\n' > /etc/acpi/PWRF/00000080
  chmod 755 /etc/acpi/PWRF/00000080
  acpid -l /var/log/acpid.log

  # DHCP on every NIC, in parallel; -b backgrounds udhcpc once it has a lease (or gave up).
  ip link set lo up
  for d in /sys/class/net/*; do
    n=${d##*/}
    [ "$n" = lo ] || [ ! -e "$d/device" ] && continue
    ip link set "$n" up
    udhcpc -i "$n" -s /etc/udhcpc.sh -O mtu -O staticroutes -t 8 -T 2 -A 10 -b \
      -p "/run/udhcpc.$n.pid" >/dev/null 2>&1 &
  done

  # The config drive (label config-2); the CD-ROM may need a moment to show up.
  meta=; ud=; i=0
  while ! dev=$(find_config_drive) && [ $i -lt 4 ]; do sleep 0.5; i=$((i + 1)); done
  if [ -n "$dev" ] && mount -o ro "$dev" /mnt/config; then
    log "config drive $dev mounted on /mnt/config"
    meta=/mnt/config/openstack/latest/meta_data.json
    ud=/mnt/config/openstack/latest/user_data
  fi
  wait  # for the leases

  if [ -z "$meta" ] || [ ! -f "$meta" ]; then
    meta=; ud=
    i=0
    while [ $i -lt 3 ]; do
      if md_get /openstack/latest/meta_data.json /run/meta_data.json; then
        log "metadata from http://$MD"
        meta=/run/meta_data.json
        md_get /openstack/latest/user_data /run/user_data.in && ud=/run/user_data.in
        break
      fi
      i=$((i + 1)); sleep 1
    done
    [ -n "$meta" ] || log "no config drive and no metadata service"
  fi

  h=
  if [ -n "$meta" ]; then
    top=$(json_top "$meta")
    h=$(echo "$top" | json_str hostname)
    [ -n "$h" ] || h=$(echo "$top" | json_str name)
    public_keys "$meta" > /run/keys
    if [ -s /run/keys ]; then
      mkdir -p /root/.ssh && chmod 700 /root/.ssh
      cat /run/keys > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys
      log "installed $(wc -l < /run/keys) key(s) in /root/.ssh/authorized_keys"
    fi
  fi
  [ -n "$h" ] || h=$(cat /run/dhcp-hostname.* 2>/dev/null | head -n 1)
  h=$(echo "$h" | tr -c 'A-Za-z0-9.\n-' '-')  # "My VM" -> My-VM
  [ -n "$h" ] && hostname "$h"
  hostname > /etc/hostname

  addrs=$(ip -o -4 addr show | awk '$2 != "lo" { print $4 }' | tr '\n' ',')
  echo "HOMESTACK-GUEST-UP hostname=$(hostname) addrs=${addrs%,} uptime=$(cut -d' ' -f1 /proc/uptime)"

  if [ -n "$ud" ] && [ -f "$ud" ] && [ "$(head -c 2 "$ud")" = '#!' ]; then
    cp "$ud" /run/user-data && chmod 700 /run/user-data
    log "running user_data"
    # own session: it outlives rc and gets no SIGHUP when rc exits
    setsid /run/user-data </dev/null >/dev/console 2>&1 &
  fi
}

stop() {
  echo "HOMESTACK-GUEST-DOWN"
  sync
  umount /mnt/config 2>/dev/null
}

case "$1" in
  stop) stop ;;
  *) start ;;
esac
exit 0
