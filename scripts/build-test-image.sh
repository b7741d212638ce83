#!/usr/bin/env bash
# Build the Homestack test guest (the project's own CirrOS) from Debian packages:
#   build/test-image/homestack-guest.qcow2 and homestack-guest.raw
# A 32 MiB disk: MBR (syslinux mbr.bin) + one bootable FAT16 partition holding
# syslinux, the Debian cloud kernel and a busybox initramfs with the virtio,
# CD-ROM and ISO 9660 modules. The guest runs from the initramfs; its behaviour
# lives in scripts/test-image/ (init.sh = /etc/rc, inittab, udhcpc.sh).
# Needs root on Debian 12; installs the host tools it lacks. No loop mounts.
# Reuses the images when the stamp (this script, guest files, package versions)
# is unchanged. Usage: sudo scripts/build-test-image.sh [--force]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST=$HERE/test-image
OUT=${HOMESTACK_TEST_IMAGE_DIR:-$(dirname "$HERE")/build/test-image}
CACHE=$OUT/cache            # downloaded .debs, kept between builds
WORK=$OUT/work              # scratch, rebuilt every time
DISK_MB=32                  # whole disk; the partition starts at 1 MiB
KERNEL_META=linux-image-cloud-amd64
# Loaded at boot, in this order; dependencies are resolved with depmod/modprobe.
MODULES=(virtio_pci virtio_net virtio_blk virtio_scsi sd_mod ata_piix ata_generic sr_mod
         isofs vfat nls_cp437 nls_ascii nls_utf8 button evdev)
HOST_PKGS=(apt dpkg coreutils cpio gzip kmod xz-utils zstd dosfstools mtools syslinux
           syslinux-common fdisk qemu-utils)

log() { printf '[build-test-image %3ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"
FORCE=0; [ "${1:-}" = --force ] && FORCE=1

ensure_host_packages() {
  local missing=() p
  for p in "${HOST_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  local apt=(apt-get -y -q -o DPkg::Lock::Timeout=600 install --no-install-recommends)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${missing[@]}" ||
    { apt-get -q -o DPkg::Lock::Timeout=600 update && DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${missing[@]}"; }
}

candidate() { apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1; }

# fetch_deb PKG VERSION: path of the cached .deb, downloaded when missing.
fetch_deb() {
  local f="$CACHE/${1}_${2//:/%3a}_amd64.deb"
  if [ ! -s "$f" ]; then
    log "downloading $1 $2"
    (cd "$CACHE" && apt-get -q -o APT::Sandbox::User=root download "$1=$2" >/dev/null)
  fi
  [ -s "$f" ] || die "download of $1=$2 did not produce $f"
  echo "$f"
}

ensure_host_packages
mkdir -p "$CACHE"

KPKG=$(apt-cache show --no-all-versions "$KERNEL_META" | sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n 1)
[ -n "$KPKG" ] || die "cannot resolve $KERNEL_META (apt-get update?)"
KPKG_V=$(candidate "$KPKG"); BB_V=$(candidate busybox-static)
[ -n "$KPKG_V" ] && [ -n "$BB_V" ] || die "no candidate version for $KPKG or busybox-static"
SYSLINUX_V=$(dpkg-query -W -f='${Version}' syslinux)
GUEST_FILES=("$GUEST/init.sh" "$GUEST/inittab" "$GUEST/udhcpc.sh" "$GUEST/syslinux.cfg")

STAMP=$( { sha256sum "${BASH_SOURCE[0]}" "${GUEST_FILES[@]}" | cut -d' ' -f1
           echo "$KPKG=$KPKG_V busybox-static=$BB_V syslinux=$SYSLINUX_V"; } | sha256sum | cut -d' ' -f1)
QCOW=$OUT/homestack-guest.qcow2; RAW=$OUT/homestack-guest.raw
if [ $FORCE = 0 ] && [ -s "$QCOW" ] && [ -s "$RAW" ] && [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$STAMP" ]; then
  log "up to date ($KPKG $KPKG_V, busybox $BB_V): $QCOW"
  exit 0
fi

KDEB=$(fetch_deb "$KPKG" "$KPKG_V"); BBDEB=$(fetch_deb busybox-static "$BB_V")
rm -rf "$WORK" "$OUT/stamp"; mkdir -p "$WORK"
log "unpacking $(basename "$KDEB") and $(basename "$BBDEB")"
dpkg-deb -x "$KDEB" "$WORK/k"
dpkg-deb -x "$BBDEB" "$WORK/bb"

# Kernel: modules live in /lib/modules or (usrmerged) /usr/lib/modules.
KBASE=$WORK/k; [ -d "$KBASE/lib/modules" ] || KBASE=$WORK/k/usr
KVER=$(ls "$KBASE/lib/modules" | head -n 1)
VMLINUZ=$(ls "$WORK"/k/boot/vmlinuz-"$KVER" 2>/dev/null || ls "$WORK"/k/usr/lib/linux/vmlinuz-"$KVER" 2>/dev/null) ||
  die "no vmlinuz for $KVER"
depmod -b "$KBASE" "$KVER"

R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,run,tmp,root,mnt/config,var/log}
MDIR=$R/lib/modules/$KVER; mkdir -p "$MDIR"

# Modules and their dependencies (insmod lines in load order; builtins are skipped).
load=()
for m in "${MODULES[@]}"; do
  deps=$(modprobe -d "$KBASE" -S "$KVER" --show-depends "$m") || die "module $m not in $KPKG"
  grep -q '^insmod ' <<<"$deps" && load+=("$m")
  for ko in $(sed -n 's/^insmod \([^ ]*\).*/\1/p' <<<"$deps"); do
    rel=${ko#"$KBASE/lib/modules/$KVER/"}
    dst=$MDIR/${rel%.xz}; dst=${dst%.zst}
    [ -e "$dst" ] && continue
    mkdir -p "$(dirname "$dst")"
    case $ko in
      *.ko.xz) xz -dc "$ko" > "$dst" ;;
      *.ko.zst) zstd -q -dc "$ko" > "$dst" ;;
      *) cp "$ko" "$dst" ;;
    esac
  done
done
cp "$KBASE/lib/modules/$KVER"/modules.{builtin,builtin.modinfo,order} "$MDIR/"
depmod -b "$R" "$KVER"
printf '%s\n' "${load[@]}" > "$R/etc/modules"
log "kernel $KVER, $(find "$MDIR" -name '*.ko' | wc -l) modules ($(du -sh "$MDIR" | cut -f1))"

# busybox: PID 1 (/init) and every applet as a symlink.
cp "$WORK/bb/bin/busybox" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list-full); do
  [ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done
ln -sf bin/busybox "$R/init"
install -m 755 "$GUEST/init.sh" "$R/etc/rc"
install -m 755 "$GUEST/udhcpc.sh" "$R/etc/udhcpc.sh"
install -m 644 "$GUEST/inittab" "$R/etc/inittab"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"
printf '127.0.0.1 localhost\n' > "$R/etc/hosts"
chmod 700 "$R/root"
mknod -m 600 "$R/dev/console" c 5 1
(cd "$R" && find . -print0 | LC_ALL=C sort -z |
  cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) | gzip -9n > "$WORK/initrd.gz"

# FAT16 partition image (hidden sectors = its offset), syslinux, kernel, initramfs.
DISK_SECTORS=$((DISK_MB * 2048)); START=2048; PART_SECTORS=$((DISK_SECTORS - START))
P=$WORK/part.img
truncate -s $((PART_SECTORS * 512)) "$P"
mkfs.vfat -F 16 -n HOMESTACK -i 484d5354 -h $START "$P" >/dev/null
syslinux --install "$P"
export MTOOLS_SKIP_CHECK=1
mcopy -i "$P" "$VMLINUZ" ::/vmlinuz
mcopy -i "$P" "$WORK/initrd.gz" ::/initrd.gz
mcopy -i "$P" "$GUEST/syslinux.cfg" ::/syslinux.cfg

# Whole disk: MBR partition table, the partition, syslinux's MBR boot code.
D=$WORK/disk.raw
truncate -s $((DISK_SECTORS * 512)) "$D"
printf 'label: dos\nlabel-id: 0x484d5354\nstart=%d, size=%d, type=6, bootable\n' \
  $START $PART_SECTORS | sfdisk --quiet "$D"
dd if="$P" of="$D" bs=1M seek=1 conv=notrunc,sparse status=none
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$D" bs=440 count=1 conv=notrunc status=none
qemu-img convert -f raw -O qcow2 "$D" "$WORK/disk.qcow2"

cp "$VMLINUZ" "$OUT/vmlinuz"; cp "$WORK/initrd.gz" "$OUT/initrd.gz"   # for direct kernel boot
mv -f "$WORK/disk.qcow2" "$QCOW"; mv -f "$D" "$RAW"
echo "$STAMP" > "$OUT/stamp"
rm -rf "$WORK"
log "built $QCOW ($(du -h "$QCOW" | cut -f1)) and $RAW ($(du -h --apparent-size "$RAW" | cut -f1), $(du -h "$RAW" | cut -f1) allocated); initramfs $(du -h "$OUT/initrd.gz" | cut -f1)"
