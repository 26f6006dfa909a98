#!/usr/bin/env bash
# Installs everything the lab and its tests need on Debian 12 (bookworm), then
# the npm dependencies, and builds. Safe to run again. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

# QEMU and libvirt come from bookworm-backports (QEMU 10.0, libvirt 11.3): bookworm's QEMU 7.2
# drops guest memory barriers under the virtual clock (-icount) and stalls emulated NVMe queues,
# and cannot run the lab's TCG plugin API (docs/timing.md). Only these packages and what they
# need come from backports; the rest of the host stays on bookworm.
BACKPORTS_PACKAGES=(
  qemu-system-x86 qemu-utils                      # guests (TCG here, KVM where /dev/kvm exists)
  libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu  # libvirtd, virsh, virt-xml-validate
)
# The oldest versions the lab runs on (checked again at run time: infra/hypervisor-versions.ts).
MIN_QEMU=8.1
# One list, used by the quick start, the tests and CI (versions: docs/infra.md).
APT_PACKAGES=(
  mmdebstrap e2fsprogs cpio xz-utils zstd         # guest image build
  fio bpftrace                                    # workloads and tracing (also on static hosts)
  iperf3 sockperf                                 # network workloads on static hosts and their peers (the guest image has its own)
  openssh-server openssh-client                   # the runner's transport; tests start a real sshd
  libxml2-utils                                   # xmllint, used by virt-xml-validate
  gcc libc6-dev                                   # the lab's QEMU plugin and the guest's static window marker (infra/profiler)
  ca-certificates
)
# Building your own kernel under test (`iommu-lab kernel build`, `bisect`): `scripts/setup.sh --kernel`.
KERNEL_PACKAGES=(build-essential bc bison flex libelf-dev libssl-dev dwarves ccache git kmod)
# Only the tests need these (`scripts/setup.sh --test`): the HTML report is checked in a real headless
# browser, a real kernel is built from Debian's 6.1 source (the your-own-kernel and bisect VM tests).
# The remote-hypervisor test makes a second host in a network namespace: ip (iproute2), nsenter and unshare (util-linux).
TEST_PACKAGES=(chromium linux-source-6.1 iproute2 util-linux "${KERNEL_PACKAGES[@]}")
case "${1:-}" in
  --test) APT_PACKAGES+=("${TEST_PACKAGES[@]}") ;;
  --kernel) APT_PACKAGES+=("${KERNEL_PACKAGES[@]}") ;;
esac

need_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup: run this as root (or install sudo): apt-get needs it" >&2; exit 2; fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# QEMU's version as Debian names it (1:10.0.2+ds-1~bpo12+1 → 10.0); empty when not installed.
qemu_version() { dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null | sed -E 's/^[0-9]+://; s/^([0-9]+\.[0-9]+).*/\1/'; }
older_than() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" != "$2" ]; }

missing=()
for p in "${APT_PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
backports_needed=0
for p in "${BACKPORTS_PACKAGES[@]}"; do installed "$p" || backports_needed=1; done
if [ -n "$(qemu_version)" ] && older_than "$(qemu_version)" "$MIN_QEMU"; then backports_needed=1; fi

if [ "$backports_needed" -eq 1 ] && . /etc/os-release && [ "${VERSION_CODENAME:-}" = bookworm ]; then
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "setup: adding bookworm-backports to apt's sources (/etc/apt/sources.list.d/iommu-lab-backports.sources)" >&2
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | need_root tee /etc/apt/sources.list.d/iommu-lab-backports.sources >/dev/null
  fi
fi
if [ "${#missing[@]}" -gt 0 ] || [ "$backports_needed" -eq 1 ]; then
  need_root apt-get update -qq
fi
if [ "$backports_needed" -eq 1 ]; then
  target=()
  if . /etc/os-release && [ "${VERSION_CODENAME:-}" = bookworm ]; then target=(-t bookworm-backports); fi
  echo "setup: installing ${BACKPORTS_PACKAGES[*]} ${target[*]}" >&2
  # A running libvirtd of the old version keeps its binary: stop ours before replacing it.
  for d in libvirtd virtlogd; do pid=$(cat "/run/$d.pid" 2>/dev/null || true); [ -n "$pid" ] && need_root kill "$pid" 2>/dev/null || true; done
  need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${target[@]}" "${BACKPORTS_PACKAGES[@]}" >/dev/null
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if older_than "$(qemu_version)" "$MIN_QEMU"; then
  echo "setup: QEMU $(qemu_version) is installed; the lab needs QEMU $MIN_QEMU or newer (Debian 12: bookworm-backports; elsewhere your distribution's QEMU 8.1+)" >&2
  exit 2
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is needed (Debian 12's nodejs is 18): install it from nodejs.org or your distribution's backports" >&2
  exit 2
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
npm run --silent build
echo "setup: done" >&2
