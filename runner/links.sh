#!/bin/sh
# iommu-lab: puts each end of the target's test links into its own network
# namespace with its address (idempotent: an end already there stays), then
# prints what each end is, one TAB-separated line per end, like the preflight:
#   nic LINK END MAC IFNAME PCI GROUP GROUP_TYPE VIRTIO_FEATURES DRIVER
# or   nic LINK END MAC missing
# Arguments: groups of five: link name, end (a or b), MAC, namespace, address/prefix;
# or, for a static host's NIC (nothing is moved): name, "host", interface, -, -.
# Parsed by runner/links.ts; a saved output is in test/fixtures/network/.
T="$(printf '\t')"
# Prints the interface with the MAC $1 among those the namespace it runs in sees (its own /sys/class/net).
BY_MAC='for a in /sys/class/net/*/address; do [ "$(cat "$a" 2>/dev/null)" = "$1" ] && { d=${a%/address}; echo "${d##*/}"; exit 0; }; done; exit 1'
while [ "$#" -ge 5 ]; do
  link=$1 end=$2 mac=$3 ns=$4 addr=$5; shift 5
  if [ "$end" = host ]; then
    ifname=$mac end=a
    [ -e "/sys/class/net/$ifname" ] || { echo "nic${T}${link}${T}${end}${T}-${T}missing"; continue; }
    mac=$(cat "/sys/class/net/$ifname/address")
    dev=$(readlink -f "/sys/class/net/$ifname/device" 2>/dev/null)
  else
  [ -e "/run/netns/$ns" ] || ip netns add "$ns" || exit 2
  # Inside the namespace (its own /sys/class/net) first: a second preflight of the same boot finds it there.
  ifname=$(ip netns exec "$ns" sh -c "$BY_MAC" _ "$mac" 2>/dev/null)
  if [ -z "$ifname" ]; then
    ifname=$(sh -c "$BY_MAC" _ "$mac") || { echo "nic${T}${link}${T}${end}${T}${mac}${T}missing"; continue; }
    ip link set "$ifname" netns "$ns" || exit 2
  fi
  ip -n "$ns" link set lo up
  ip -n "$ns" addr replace "$addr" dev "$ifname" || exit 2
  ip -n "$ns" link set "$ifname" up || exit 2
  dev=$(ip netns exec "$ns" readlink -f "/sys/class/net/$ifname/device")
  fi
  # A virtual NIC (veth) has no device: no PCI address, no group, no driver.
  driver=""; [ -n "$dev" ] && [ -e "$dev/driver" ] && driver=$(basename "$(readlink -f "$dev/driver")")
  d="$dev"; group=""; pci=""; features=""
  while [ -n "$d" ] && [ "$d" != "/" ] && [ "$d" != "/sys" ]; do
    case "${d##*/}" in
      virtio[0-9]*) [ -r "$d/features" ] && features=$(cat "$d/features") ;;
    esac
    if [ -L "$d/iommu_group" ]; then
      group=$(readlink -f "$d/iommu_group"); group="${group##*/}"; pci="${d##*/}"; break
    fi
    d=$(dirname "$d")
  done
  gtype=""
  [ -n "$group" ] && gtype=$(cat "/sys/kernel/iommu_groups/$group/type" 2>/dev/null)
  [ -z "$pci" ] && case "$dev" in */0000:*) pci=$(echo "$dev" | grep -o '0000:[0-9a-f:.]*' | tail -n 1) ;; esac
  echo "nic${T}${link}${T}${end}${T}${mac}${T}${ifname}${T}${pci}${T}${group}${T}${gtype}${T}${features}${T}${driver}"
done
v=$(iperf3 --version 2>/dev/null | head -n 1)
echo "iperf3${T}${v:-missing}"
exit 0
