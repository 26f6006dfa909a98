#!/usr/bin/env bash
# The README's first command, on a fresh Debian 12 machine: install what is needed,
# build (or reuse) the guest image, boot the quick scenario's guests, measure them
# with tracing, and take them down again. Prints where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/start-libvirtd.sh
lab() { node bin/iommu-lab.js "$@"; }
lab validate scenarios/quick.yaml
lab plan scenarios/quick.yaml
lab image build
mkdir -p results
inventory=results/quick-inventory.json
# Guests come down whatever happens, also on Ctrl-C.
trap 'lab down --scenario quick >&2 || true' EXIT
lab up scenarios/quick.yaml --inventory "$inventory"
status=0
lab run scenarios/quick.yaml --inventory "$inventory" || status=$?
exit "$status"
