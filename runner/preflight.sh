#!/bin/sh
# iommu-lab preflight: prints what a target really runs with, one fact per
# line as TAB-separated fields, and changes nothing. Arguments: the sysfs root
# (/sys; tests point it at a fake tree), then pairs of test-disk name and path.
# Parsed by runner/preflight.ts; a saved output is in test/fixtures/preflight/.
SYS="$1"; shift
T="$(printf '\t')"
echo "kernel${T}$(uname -r)"
echo "cmdline${T}$(cat /proc/cmdline)"
# This boot's identity: repetitions that share it share its boot-to-boot offset (docs/statistics.md).
echo "boot_id${T}$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"
echo "fio${T}$(fio --version 2>/dev/null || echo missing)"
echo "bpftrace${T}$(bpftrace --version 2>/dev/null || echo missing)"
if [ -e "$SYS/kernel/btf/vmlinux" ]; then echo "btf${T}yes"; else echo "btf${T}no"; fi
for c in "$SYS"/class/iommu/*; do [ -e "$c" ] && echo "iommu_class${T}${c##*/}"; done
for g in "$SYS"/kernel/iommu_groups/*; do
  [ -r "$g/type" ] && echo "group${T}${g##*/}${T}$(cat "$g/type")"
done
while [ "$#" -ge 2 ]; do
  name="$1"; path="$2"; shift 2
  if [ -b "$path" ]; then majmin=$(stat -L -c '%Hr:%Lr' "$path")
  elif [ -e "$path" ]; then majmin=$(stat -c '%Hd:%Ld' "$path")
  elif [ -d "$(dirname "$path")" ]; then majmin=$(stat -c '%Hd:%Ld' "$(dirname "$path")")
  else echo "disk${T}${name}${T}${path}${T}missing"; continue
  fi
  dev=$(readlink -f "$SYS/dev/block/$majmin" 2>/dev/null)
  d="$dev"; group=""; pci=""; features=""
  while [ -n "$d" ] && [ "$d" != "/" ] && [ "$d" != "$SYS" ]; do
    case "${d##*/}" in
      virtio[0-9]*) [ -r "$d/features" ] && features=$(cat "$d/features") ;;
      # NVMe multipath (QEMU 10's controller, real multipath disks): the namespace hangs off a
      # virtual subsystem; its DMA is done by the subsystem's controller, a PCI device with the group.
      # With several controllers the first is taken (one path is what a test disk's fio uses).
      nvme-subsys[0-9]*)
        for c in "$d"/nvme[0-9]*; do
          if [ -e "$c/device" ]; then d=$(readlink -f "$c/device"); continue 2; fi
        done ;;
    esac
    if [ -L "$d/iommu_group" ]; then
      group=$(readlink -f "$d/iommu_group"); group="${group##*/}"; pci="${d##*/}"; break
    fi
    d=$(dirname "$d")
  done
  gtype=""
  [ -n "$group" ] && gtype=$(cat "$SYS/kernel/iommu_groups/$group/type" 2>/dev/null)
  echo "disk${T}${name}${T}${path}${T}${majmin}${T}${dev#"$SYS"}${T}${pci}${T}${group}${T}${gtype}${T}${features}"
done
# Boot messages that tell the mode; dmesg may be restricted, the journal is the fallback.
{ dmesg 2>/dev/null || journalctl -k -b --no-pager 2>/dev/null; } \
  | grep -E 'DMAR|IOMMU|iommu|VIOT|virtio_iommu' | head -n 200 | sed "s/^/boot${T}/"
exit 0
