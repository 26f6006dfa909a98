#!/usr/bin/env bash
# Starts virtlogd and libvirtd where there is no systemd (containers, CI
# sandboxes, this lab's own build machines). Idempotent: does nothing when
# libvirtd already answers. With systemd, use `systemctl start libvirtd`.
set -euo pipefail
URI=qemu:///system
# How long a libvirtd that runs but does not answer may take to answer or go away, and a new one
# to answer: a libvirtd told to stop waits up to 30 s for its workers before it gives up and exits
# (libvirt's virNetDaemonRun, "Make forcefull daemon shutdown"); one starting on a loaded 2-core
# machine may probe QEMU for many seconds.
WAIT_S=60
answers() { virsh -c "$URI" version >/dev/null 2>&1; }
running() { pgrep -x libvirtd >/dev/null; }
answers_or_gone() { answers || ! running; }
within() { # within SECONDS CHECK: true as soon as CHECK is
  local tries=$(( $1 * 5 ))
  for _ in $(seq 1 "$tries"); do "$2" && return 0; sleep 0.2; done
  return 1
}
if answers; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "start-libvirtd: run as root" >&2; exit 2; fi
command -v libvirtd >/dev/null || { echo "start-libvirtd: libvirtd is missing: apt-get install libvirt-daemon-system" >&2; exit 2; }
# Without udev, /dev/kvm stays root-only. libvirt then finds KVM usable when it probes
# QEMU but not for QEMU's user, and re-probes QEMU on every connection (about 4 s per
# virsh call). Give it the group Debian's udev rule gives it.
if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %G /dev/kvm)" != kvm ]; then
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi
if running; then
  # Starting or stopping: wait for it rather than start a second one beside it.
  within "$WAIT_S" answers_or_gone || true
  if answers; then exit 0; fi
  if running; then
    echo "start-libvirtd: libvirtd (pid $(pgrep -x libvirtd | tr '\n' ' ')) runs but has not answered for ${WAIT_S} s: stop it (kill -TERM that pid), then run this again (see /var/log/libvirt/libvirtd.log)" >&2
    exit 1
  fi
fi
pgrep -x virtlogd >/dev/null || virtlogd -d
libvirtd -d
if within "$WAIT_S" answers; then exit 0; fi
echo "start-libvirtd: libvirtd did not answer within ${WAIT_S} s (see /var/log/libvirt/libvirtd.log)" >&2
exit 1
