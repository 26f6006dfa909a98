#!/usr/bin/env bash
# Starts virtlogd and libvirtd where there is no systemd (containers, CI
# sandboxes, this lab's own build machines). Idempotent: does nothing when
# libvirtd already answers. With systemd, use `systemctl start libvirtd`.
set -euo pipefail
if virsh -c qemu:///system version >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "start-libvirtd: run as root" >&2; exit 2; fi
command -v libvirtd >/dev/null || { echo "start-libvirtd: libvirtd is missing: apt-get install libvirt-daemon-system" >&2; exit 2; }
# Without udev, /dev/kvm stays root-only. libvirt then finds KVM usable when it probes
# QEMU but not for QEMU's user, and re-probes QEMU on every connection (about 4 s per
# virsh call). Give it the group Debian's udev rule gives it.
if [ -c /dev/kvm ] && getent group kvm >/dev/null && [ "$(stat -c %G /dev/kvm)" != kvm ]; then
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
fi
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 1 100); do
  virsh -c qemu:///system version >/dev/null 2>&1 && exit 0
  sleep 0.1
done
echo "start-libvirtd: libvirtd did not answer within 10 s (see /var/log/libvirt/libvirtd.log)" >&2
exit 1
