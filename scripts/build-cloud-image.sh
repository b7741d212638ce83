#!/usr/bin/env bash
# Build a Debian 12 cloud image from Debian packages only:
#   build/cloud-image/debian-12-cloud.qcow2
# What Debian's genericcloud image is, made without mounting anything on the host:
#  - mmdebstrap --mode=unshare installs minbase + scripts/cloud-image/packages.txt into a
#    directory (its /proc, /sys and /dev mounts live in a private mount namespace that
#    ends with it), from the Debian archive this machine's apt uses;
#  - scripts/cloud-image/files/ is copied over it (GRUB settings with the serial console,
#    cloud-init's settings, apt sources), /etc/fstab names the new root filesystem;
#  - mkfs.ext4 -d makes the root filesystem from that directory into a file, written
#    at 1 MiB into a 2 GiB disk partitioned with sfdisk (MBR, one bootable partition);
#  - GRUB for BIOS: grub.cfg from the guest's own grub-mkconfig (with a stand-in
#    grub-probe naming the partition it will live on), core.img from the guest's own
#    grub-mkimage into the gap before the partition, boot.img into the MBR.
# cloud-init's default user is `debian` (Debian's cloud-init package sets it), with the
# datasources OpenStack (the metadata service) first and ConfigDrive when the service
# does not answer (files/etc/cloud/ds-identify.cfg keeps that order even with a config
# drive attached); growpart grows the root partition to the disk.
#
# Reuse: nothing is done when the image exists and its inputs (this script,
# scripts/cloud-image/packages.txt and files/) hash to the value stored beside it
# (debian-12-cloud.inputs).
# A built image is also kept in $HOMESTACK_CLOUD_IMAGE_CACHE (default
# /var/cache/homestack/cloud-image; empty: no cache), so a fresh clone on the same
# machine (CI) copies it instead of building it again.
# Needs root on Debian 12 (installs the `images` group of scripts/debian-packages.txt
# when missing). Usage: sudo scripts/build-cloud-image.sh [--force]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST=$HERE/cloud-image
OUT=${HOMESTACK_CLOUD_IMAGE_DIR:-$(dirname "$HERE")/build/cloud-image}
CACHE=${HOMESTACK_CLOUD_IMAGE_CACHE-/var/cache/homestack/cloud-image}
NAME=debian-12-cloud
IMG=$OUT/$NAME.qcow2
STAMPF=$OUT/$NAME.inputs
SUITE=bookworm
DISK_MB=2048               # virtual disk size; the flavor's disk grows it at first boot
START=2048                 # first sector of the root partition (1 MiB); GRUB's core.img sits before it

log() { printf '[build-cloud-image %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"
FORCE=0; [ "${1:-}" = --force ] && FORCE=1

# The inputs: this script, the package list and the files laid over the root (paths and
# contents); not the tests beside them.
STAMP=$( { sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
           (cd "$GUEST" && find packages.txt files -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); } | sha256sum | cut -d' ' -f1)

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9   # one build at a time per output directory

if [ $FORCE = 0 ] && [ -s "$IMG" ] && [ "$(cat "$STAMPF" 2>/dev/null)" = "$STAMP" ]; then
  log "up to date (inputs $STAMP): $IMG"
  exit 0
fi
if [ $FORCE = 0 ] && [ -n "$CACHE" ] && [ -s "$CACHE/$STAMP.qcow2" ]; then
  cp --reflink=auto "$CACHE/$STAMP.qcow2" "$IMG.tmp" && mv -f "$IMG.tmp" "$IMG"
  cp "$CACHE/$STAMP.packages" "$OUT/$NAME.packages" 2>/dev/null || true
  echo "$STAMP" > "$STAMPF"
  log "copied from the cache $CACHE/$STAMP.qcow2: $IMG"
  exit 0
fi

# Host tools: the `images` group of scripts/debian-packages.txt.
mapfile -t HOST_PKGS < <(sed -e 's/#.*//' "$HERE/debian-packages.txt" | awk '$1 == "images" { for (i = 2; i <= NF; i++) print $i }')
[ ${#HOST_PKGS[@]} -gt 0 ] || die "no 'images' group in scripts/debian-packages.txt"
missing=()
for p in "${HOST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt=(apt-get -y -q -o DPkg::Lock::Timeout=600 install --no-install-recommends)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${missing[@]}" >/dev/null ||
    { apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${missing[@]}" >/dev/null; }
fi

# The Debian archive as this machine's apt reaches it (a local mirror or deb.debian.org).
mapfile -t SOURCES < <(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' 2>/dev/null |
  awk -v s="$SUITE" '$3 == "main" && ($2 == s || $2 == s "-updates" || $2 == s "-security") { print $1, $2 }' | sort -u |
  while read -r uri rel; do echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $rel main"; done)
[ ${#SOURCES[@]} -gt 0 ] || die "apt knows no $SUITE source for main (apt-get update?)"
mapfile -t GUEST_PKGS < <(sed -e 's/#.*//' "$GUEST/packages.txt" | tr -s ' \t' '\n' | sed '/^$/d')

WORK=$OUT/work
R=$WORK/root
rm -rf "$WORK"; mkdir -p "$WORK"
[ -n "${HOMESTACK_KEEP_WORK:-}" ] || trap 'rm -rf "$WORK"' EXIT   # HOMESTACK_KEEP_WORK=1: keep it to look into

log "mmdebstrap $SUITE: minbase + ${#GUEST_PKGS[@]} packages ($(printf '%s\n' "${SOURCES[@]}" | cut -d' ' -f3,4 | paste -sd' '))"
# Answers to debconf questions, set before the packages install: en_US.UTF-8 generated
# and the default (cloud-init's locale module sets LANG=en_US.UTF-8 on Debian, and
# Debian's locale-gen ignores its arguments: without the locale generated the module
# fails and `cloud-init status` says error). The cloud-init/datasources answer is given
# too, but it is not what decides: the built image has no 90_dpkg.cfg (cloud-init's
# postinst does not write one here), so the order is the datasource_list of
# files/etc/cloud/cloud.cfg.d/02_homestack.cfg.
mmdebstrap --mode=unshare --variant=minbase --format=directory --quiet \
  --include="$(IFS=,; echo "${GUEST_PKGS[*]}")" \
  --essential-hook='printf "%s\n" "cloud-init cloud-init/datasources multiselect OpenStack, ConfigDrive, None" \
      "locales locales/locales_to_be_generated multiselect en_US.UTF-8 UTF-8" \
      "locales locales/default_environment_locale select en_US.UTF-8" | chroot "$1" debconf-set-selections' \
  "$SUITE" "$R" "${SOURCES[@]}" 2> "$WORK/mmdebstrap.log" ||
  { tail -n 40 "$WORK/mmdebstrap.log" >&2; die "mmdebstrap failed"; }
log "installed $(chroot "$R" dpkg-query -W | wc -l) packages ($(du -sh "$R" | cut -f1))"

# The directory is plain again (mmdebstrap's mounts ended with its namespace): check.
if findmnt -rn -o TARGET | grep -qF "$R"; then die "something is mounted under $R"; fi
KVER=$(cd "$R/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -n 1)
[ -n "$KVER" ] && [ -s "$R/boot/initrd.img-$KVER" ] || die "no kernel/initramfs in the image"
UUID=$(cat /proc/sys/kernel/random/uuid)
DISKID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')

cp -r --no-preserve=ownership "$GUEST/files/." "$R/"
printf '# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=%s / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1\n' "$UUID" > "$R/etc/fstab"
rm -f "$R/etc/apt/sources.list"                                # mmdebstrap's build sources; the guest's are debian.sources
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"   # systemd-resolved, as Debian's images
chroot "$R" systemctl enable --quiet systemd-networkd.service systemd-resolved.service
# A lean first boot under TCG (measured with systemd-analyze blame: e2scrub_reap alone ran
# for 2 min beside cloud-init): nothing of e2scrub (no LVM here), and no apt timers
# polling an archive a guest may not reach; sshd, cloud-init, growpart and the guest
# agent stay as Debian has them.
chroot "$R" systemctl mask --quiet e2scrub_reap.service
chroot "$R" systemctl disable --quiet e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer

# GRUB: the modules where grub-install puts them, grub.cfg from grub-mkconfig.
mkdir -p "$R/boot/grub/i386-pc"
cp "$R"/usr/lib/grub/i386-pc/*.mod "$R"/usr/lib/grub/i386-pc/*.lst "$R/boot/grub/i386-pc/"
mv "$R/usr/sbin/grub-probe" "$WORK/grub-probe.real"
cat > "$R/usr/sbin/grub-probe" <<PROBE
#!/bin/sh
# Stand-in during the image build: what grub-probe will answer on the booted guest.
for a; do case \$a in --target=*) t=\${a#--target=} ;; esac; done
case \$t in
  device) echo /dev/vda1 ;;  fs) echo ext2 ;;  fs_uuid) echo $UUID ;;  partmap) echo msdos ;;
  partuuid) echo $DISKID-01 ;;  abstraction|cryptodisk_uuid) ;;  compatibility_hint) echo hd0,msdos1 ;;
  hints_string) echo '--hint-bios=hd0,msdos1 --hint-efi=hd0,msdos1 --hint-baremetal=ahci0,msdos1 ' ;;
  *) echo "grub-probe stand-in: unknown target \$t" >&2; exit 1 ;;
esac
PROBE
chmod 755 "$R/usr/sbin/grub-probe"
mkdir -p "$R/dev/disk/by-uuid"; touch "$R/dev/disk/by-uuid/$UUID"   # so 10_linux writes root=UUID=
chroot "$R" grub-mkconfig -o /boot/grub/grub.cfg 2> "$WORK/grub-mkconfig.log" ||
  { cat "$WORK/grub-mkconfig.log" >&2; die "grub-mkconfig failed"; }
mv -f "$WORK/grub-probe.real" "$R/usr/sbin/grub-probe"
grep -q "root=UUID=$UUID" "$R/boot/grub/grub.cfg" || die "grub.cfg does not boot root=UUID=$UUID"
printf 'search.fs_uuid %s root hd0,msdos1\nset prefix=($root)/boot/grub\n' "$UUID" > "$R/tmp/early.cfg"
chroot "$R" grub-mkimage -O i386-pc -d /usr/lib/grub/i386-pc -c /tmp/early.cfg -p /boot/grub \
  -o /tmp/core.img biosdisk part_msdos ext2 search_fs_uuid
mv "$R/tmp/core.img" "$WORK/core.img"
cp "$R/usr/lib/grub/i386-pc/boot.img" "$WORK/boot.img"
CORE_SECTORS=$(( ($(stat -c %s "$WORK/core.img") + 511) / 512 ))
[ $CORE_SECTORS -lt $((START - 1)) ] || die "core.img ($CORE_SECTORS sectors) does not fit before sector $START"

# What the guest must not share with every other instance of the image (Debian's cleanup).
chroot "$R" dpkg-query -W -f '${Package} ${Version}\n' > "$WORK/packages"
rm -rf "$R"/dev/* "$R"/proc/* "$R"/sys/* "$R"/run/* "$R"/tmp/* "$R"/var/tmp/* \
  "$R"/var/cache/apt/*.bin "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* \
  "$R"/etc/ssh/ssh_host_* "$R"/var/lib/dbus/machine-id "$R"/var/log/apt/* "$R"/var/log/dpkg.log \
  "$R"/var/log/alternatives.log "$R"/var/log/bootstrap.log "$R"/var/lib/cloud/*
: > "$R/etc/machine-id"; : > "$R/etc/hostname"
ls "$R"/etc/ssh/ssh_host_* >/dev/null 2>&1 && die "ssh host keys left in the image"

# The root filesystem from the directory (no mount), then the whole disk around it.
DISK_SECTORS=$((DISK_MB * 2048)); PART_SECTORS=$((DISK_SECTORS - START))
P=$WORK/root.ext4; D=$WORK/disk.raw
truncate -s $((PART_SECTORS * 512)) "$P"
# GRUB 2.06 cannot read ext4 with metadata_csum_seed or orphan_file: never turn them on.
mkfs.ext4 -q -F -U "$UUID" -O ^metadata_csum_seed,^orphan_file -d "$R" "$P"
truncate -s $((DISK_SECTORS * 512)) "$D"
printf 'label: dos\nlabel-id: 0x%s\nstart=%d, size=%d, type=83, bootable\n' "$DISKID" $START $PART_SECTORS | sfdisk --quiet "$D"
dd if="$P" of="$D" bs=1M seek=$((START / 2048)) conv=notrunc,sparse status=none
dd if="$WORK/boot.img" of="$D" bs=440 count=1 conv=notrunc status=none      # boot code, keeping the partition table
dd if="$WORK/core.img" of="$D" bs=512 seek=1 conv=notrunc status=none       # boot.img loads sector 1, which lists the rest
rm -f "$P"
qemu-img convert -f raw -O qcow2 -c "$D" "$WORK/$NAME.qcow2"

mv -f "$WORK/$NAME.qcow2" "$IMG"
mv -f "$WORK/packages" "$OUT/$NAME.packages"
echo "$STAMP" > "$STAMPF"
if [ -n "$CACHE" ]; then
  mkdir -p "$CACHE"
  find "$CACHE" -maxdepth 1 -type f ! -name "$STAMP.*" -delete     # keep the latest build only
  cp --reflink=auto "$IMG" "$CACHE/$STAMP.qcow2.tmp" && mv -f "$CACHE/$STAMP.qcow2.tmp" "$CACHE/$STAMP.qcow2"
  cp "$OUT/$NAME.packages" "$CACHE/$STAMP.packages"
fi
log "built $IMG ($(du -h "$IMG" | cut -f1); kernel $KVER; root UUID $UUID; $(wc -l < "$OUT/$NAME.packages") packages) in $SECONDS s"
