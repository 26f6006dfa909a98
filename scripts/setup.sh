#!/usr/bin/env bash
# Installs everything the lab and its tests need on Debian 12 (bookworm), then
# the npm dependencies, and builds. Safe to run again. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

# One list, used by the quick start, the tests and CI (versions: docs/infra.md).
APT_PACKAGES=(
  qemu-system-x86 qemu-utils                      # guests (TCG here, KVM where /dev/kvm exists)
  libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu  # libvirtd, virsh, virt-xml-validate
  mmdebstrap e2fsprogs cpio xz-utils zstd         # guest image build
  fio bpftrace                                    # workloads and tracing (also on static hosts)
  openssh-server openssh-client                   # the runner's transport; tests start a real sshd
  libxml2-utils                                   # xmllint, used by virt-xml-validate
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

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  need_root apt-get update -qq
  need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is needed (Debian 12's nodejs is 18): install it from nodejs.org or your distribution's backports" >&2
  exit 2
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
npm run --silent build
echo "setup: done" >&2
