#!/usr/bin/env bash
# Builds the lab's guest from Debian packages only. Called by guest-images/build.ts,
# which checks the prerequisites, chooses OUT (a temporary directory renamed into
# the cache when everything succeeded) and writes the manifest.
#
#   build.sh OUT PACKAGES_COMMA_SEPARATED MIRROR SECURITY_MIRROR
#
# Output in OUT: rootfs.qcow2, vmlinuz-<kver>, initrd-<kver> (one pair per kernel),
# lab_ed25519 (+ .pub: the lab's client key), ssh_host_ed25519_key.pub,
# packages.tsv, kernels.tsv.
set -euo pipefail
out=$1 packages=$2 mirror=$3 security=$4
here=$(cd "$(dirname "$0")" && pwd)
work="$out/work"
rootfs="$work/rootfs"
mkdir -p "$work"
log() { printf 'image: %s\n' "$*" >&2; }
trap 'echo "image: build.sh failed at line $LINENO: $BASH_COMMAND" >&2' ERR

log "mmdebstrap (Debian 12 + bookworm-backports kernel)"
mmdebstrap --mode=root --variant=minbase \
  --include="$packages" \
  --aptopt='Acquire::Retries "3"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --customize-hook='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t bookworm-backports linux-image-amd64 >/dev/null' \
  --customize-hook='chroot "$1" apt-get clean' \
  bookworm "$rootfs" \
  "deb $mirror bookworm main" \
  "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main" \
  "deb $mirror bookworm-backports main"

log "keys and configuration"
ssh-keygen -q -t ed25519 -N '' -C iommu-lab -f "$out/lab_ed25519"
rm -f "$rootfs"/etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C iommu-lab-guest -f "$rootfs/etc/ssh/ssh_host_ed25519_key"
cp "$rootfs/etc/ssh/ssh_host_ed25519_key.pub" "$out/ssh_host_ed25519_key.pub"
install -m 0644 "$here/files/sshd_config" "$rootfs/etc/ssh/sshd_config"
rm -rf "$rootfs/etc/ssh/sshd_config.d"
install -d -m 0700 "$rootfs/root/.ssh"
install -m 0600 "$out/lab_ed25519.pub" "$rootfs/root/.ssh/authorized_keys"
echo lab > "$rootfs/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 lab\n' > "$rootfs/etc/hosts"
printf 'LABEL=labroot / ext4 rw,noatime 0 1\n' > "$rootfs/etc/fstab"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log
chroot "$rootfs" dpkg-query -W -f '${Package}\t${Version}\n' | sort > "$out/packages.tsv"

log "kernels and initramfs"
: > "$out/kernels.tsv"
for modroot in "$rootfs"/lib/modules/*; do
  kver=${modroot##*/}
  [ -f "$rootfs/boot/vmlinuz-$kver" ] || continue
  cp "$rootfs/boot/vmlinuz-$kver" "$out/vmlinuz-$kver"
  cfg="$rootfs/boot/config-$kver"
  fact() { grep -E "^$1=" "$cfg" | cut -d= -f2 || true; }
  lazy=$(fact CONFIG_IOMMU_DEFAULT_DMA_LAZY); strict=$(fact CONFIG_IOMMU_DEFAULT_DMA_STRICT); pt=$(fact CONFIG_IOMMU_DEFAULT_PASSTHROUGH)
  policy=unknown; [ "$lazy" = y ] && policy=lazy; [ "$strict" = y ] && policy=strict; [ "$pt" = y ] && policy=passthrough
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kver" "$(fact CONFIG_DEBUG_INFO_BTF)" "$(fact CONFIG_VIRTIO_IOMMU)" "$policy" \
    "$(fact CONFIG_INTEL_IOMMU)" "$(fact CONFIG_BLK_DEV_NVME)" >> "$out/kernels.tsv"

  ird="$work/initramfs-$kver"
  mkdir -p "$ird"/{bin,dev,proc,sys,newroot,modules}
  cp "$rootfs/bin/busybox" "$ird/bin/busybox"
  install -m 0755 "$here/files/initramfs-init" "$ird/init"
  : > "$ird/modules/order"
  # virtio_iommu first: devices behind it wait for it; then buses, disks, network, entropy; the
  # emulated Intel NICs a test link may have last.
  for m in virtio_iommu virtio_pci virtio_blk virtio_net virtio_rng nvme ext4 e1000e igb; do
    # The image's own kmod resolves dependencies (paths are inside the chroot).
    chroot "$rootfs" modprobe -S "$kver" --show-depends "$m" 2>/dev/null | while read -r kind path _; do
      [ "$kind" = insmod ] || continue
      path="$rootfs$path"
      name=$(basename "$path"); name=${name%.xz}; name=${name%.zst}
      grep -qx "$name" "$ird/modules/order" && continue
      case "$path" in
        *.xz) xz -dc "$path" > "$ird/modules/$name" ;;
        *.zst) zstd -qdc "$path" > "$ird/modules/$name" ;;
        *) cp "$path" "$ird/modules/$name" ;;
      esac
      echo "$name" >> "$ird/modules/order"
    done || true  # a module this kernel lacks (virtio_iommu on 6.1) or has built in
  done
  # Uncompressed: unpacking is faster than decompressing under TCG, and it is only a few MB.
  (cd "$ird" && find . -print0 | cpio --null -o -H newc --quiet) > "$out/initrd-$kver"
done

log "root file system"
size_mib=$(( $(du -sm "$rootfs" | cut -f1) * 13 / 10 + 256 ))
# Fixed timestamps and UUID: the same tree gives the same file system.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000} E2FSPROGS_FAKE_TIME=${SOURCE_DATE_EPOCH:-1700000000} \
  mkfs.ext4 -q -L labroot -U 6c61622d-726f-6f74-0000-000000000001 -E root_owner=0:0,hash_seed=6c61622d-726f-6f74-0000-000000000002 \
  -d "$rootfs" "$work/rootfs.ext4" "${size_mib}M"
qemu-img convert -q -O qcow2 "$work/rootfs.ext4" "$out/rootfs.qcow2"
rm -rf "$work"
log "done"
