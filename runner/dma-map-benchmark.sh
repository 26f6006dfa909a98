#!/bin/sh
# iommu-lab: one run of the kernel's DMA-map benchmark on a test disk's PCI device.
#
# The benchmark (CONFIG_DMA_MAP_BENCHMARK) is a PCI driver named
# dma_map_benchmark; bound to a device, it maps and unmaps for that device
# through whatever DMA ops the device has (the IOMMU's, in its group's mode).
# As the kernel's selftest describes it: override the device's driver, take it
# from its own driver, bind it to the benchmark, run the tool, then give it
# back. The device is given back on every path, and /dev/lab/NAME linked to
# its block device again (there is no udev in the guest).
#
# usage: dma-map-benchmark.sh PCI NAME TOOL [TOOL ARGS...]
#   PCI   the disk's PCI address (0000:00:10.0)
#   NAME  the disk's name in the scenario (/dev/lab/NAME)
#   TOOL  the dma_map_benchmark binary
# exit: the tool's status; 3 no benchmark driver; 4 no such device; 5 could not bind.
pci=$1 name=$2 tool=$3
shift 3
dev=/sys/bus/pci/devices/$pci
bench=/sys/bus/pci/drivers/dma_map_benchmark
[ -d "$bench" ] || { echo "the kernel has no dma_map_benchmark driver (CONFIG_DMA_MAP_BENCHMARK is not set)" >&2; exit 3; }
[ -d "$dev" ] || { echo "no PCI device $pci" >&2; exit 4; }
old=""
[ -e "$dev/driver" ] && old=$(basename "$(readlink -f "$dev/driver")")

give_back() {
  [ -e "$bench/$pci" ] && echo "$pci" > "$bench/unbind"
  # An empty override (a lone newline) clears it.
  echo > "$dev/driver_override"
  if [ -n "$old" ]; then
    echo "$pci" > /sys/bus/pci/drivers_probe 2>/dev/null
    # The block device comes back (NVMe and virtio-blk probe asynchronously): link it again.
    i=0
    while [ $i -lt 100 ]; do
      b=$(ls -d "$dev"/nvme/nvme*/nvme*n* "$dev"/virtio*/block/* 2>/dev/null | head -n 1)
      if [ -n "$b" ]; then
        mkdir -p /dev/lab && ln -sf "/dev/${b##*/}" "/dev/lab/$name"
        break
      fi
      sleep 0.1; i=$((i + 1))
    done
  fi
  # The runner records whether the device went back (a check on the result).
  now=""
  [ -e "$dev/driver" ] && now=$(basename "$(readlink -f "$dev/driver")")
  echo "iommu-lab: $pci given back: driver ${now:-none} (was ${old:-none}), /dev/lab/$name -> $(readlink "/dev/lab/$name" 2>/dev/null)" >&2
}
trap give_back EXIT
trap 'exit 130' INT TERM

echo dma_map_benchmark > "$dev/driver_override" || exit 5
[ -n "$old" ] && { echo "$pci" > "$dev/driver/unbind" || exit 5; }
echo "$pci" > "$bench/bind" || { echo "could not bind $pci to dma_map_benchmark (driver was ${old:-none})" >&2; exit 5; }
[ -e /sys/kernel/debug/dma_map_benchmark ] || { echo "bound, but /sys/kernel/debug/dma_map_benchmark is missing (is debugfs mounted?)" >&2; exit 5; }
"$tool" "$@"
