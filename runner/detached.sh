#!/bin/sh
# iommu-lab: one measurement, detached from the SSH session that started it.
#
# A measurement must not depend on an SSH session staying up: under host load
# a session open across a virtual-clock measurement failed, and a lost
# connection used to lose the repetition. The runner starts this script with
# setsid and returns at once; the workload's output, stderr and exit code land
# in DIR; when it ends, a line on the serial console (where the lab reads it)
# says so without a single packet to the guest during the measurement.
#
# usage: detached.sh DIR TOKEN CONSOLE MARKER DISKS -- COMMAND [ARG...]
#   DIR      where out, err, rc (written last, atomically) and pid go
#   TOKEN    names this measurement in the console line
#   CONSOLE  1: print "iommu-lab: done TOKEN RC" on /dev/console at the end
#   MARKER   the lab's window marker (infra/profiler/mark.c), or -: run right
#            before and right after the command, it opens and closes the
#            window the QEMU plugin counts
#   DISKS    test devices (colon-separated, or -): a disk's device path, or a
#            test NIC as net/NAMESPACE/INTERFACE; their statistics (block
#            stat; tx_packets tx_bytes rx_packets rx_bytes) are read just
#            outside the window (stat.before, stat.after), so the window's
#            I/Os (or packets) are known exactly
# Under the virtual clock the guest's pacer (see guest-images/files/initramfs-init)
# is stopped for exactly the workload.
dir=$1 token=$2 console=$3 marker=$4 disks=$5
shift 6
# The kernel's counters (/sys/class/block/DEV/stat) of each test disk, one line per device that
# carries its requests. An NVMe multipath head (nvme0n1) may keep no counts of its own (Debian's
# 6.1 does not): its requests are counted on its paths (nvme0c0n1, ...), where 6.12 counts them too.
diskstats() {
  [ "$disks" = - ] && return 0
  echo "$disks" | tr ':' '\n' | while read -r d; do
    case "$d" in net/*/*)
      ns=${d#net/}; ns=${ns%%/*}
      # A static host's NIC has no namespace of the lab's (net/-/IF).
      in=""; [ "$ns" != - ] && in="ip netns exec $ns"
      $in sh -c 'cd "/sys/class/net/$1/statistics" && echo "$2 $(cat tx_packets tx_bytes rx_packets rx_bytes | tr "\n" " ")"' _ "${d##*/}" "$d"
      continue ;;
    esac
    b=$(basename "$(readlink -f "$d")")
    glob=$(echo "$b" | sed -n 's/^\(nvme[0-9]*\)n\([0-9]*\)$/\1c*n\2/p')
    paths=
    [ -n "$glob" ] && paths=$(cd /sys/class/block && ls -d $glob 2>/dev/null)
    for p in ${paths:-$b}; do echo "$d:$p $(cat "/sys/class/block/$p/stat")"; done
  done
}
echo $$ > "$dir/pid"
pacer=$(cat /run/iommu-lab-pacer.pid 2>/dev/null)
[ -n "$pacer" ] && kill -STOP "$pacer" 2>/dev/null
# Under the virtual clock sshd (and so this script) is pinned to CPU 0; the workload gets them all.
all="0-$(($(getconf _NPROCESSORS_ONLN) - 1))"
if command -v taskset > /dev/null 2>&1; then set -- taskset -c "$all" "$@"; fi
diskstats > "$dir/stat.before"
[ "$marker" != - ] && "$marker" start
"$@" > "$dir/out" 2> "$dir/err" < /dev/null
rc=$?
[ "$marker" != - ] && "$marker" stop
diskstats > "$dir/stat.after"
[ -n "$pacer" ] && kill -CONT "$pacer" 2>/dev/null
echo "$rc" > "$dir/rc.tmp" && mv "$dir/rc.tmp" "$dir/rc"
[ "$console" = 1 ] && echo "iommu-lab: done $token $rc" > /dev/console
exit 0
