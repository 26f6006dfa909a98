#!/usr/bin/env bash
# The README's first command, on a fresh Debian 12 machine: install what is
# needed, then sweep the quick scenario on local TCG guests — build (or reuse)
# the guest image, boot one guest per IOMMU configuration, measure with
# tracing, report, take the guests down — and print where the report is.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/setup.sh
scripts/start-libvirtd.sh
status=0
node bin/iommu-lab.js sweep scenarios/quick.yaml --results results "$@" || status=$?
echo "quickstart: $(( $(date +%s) - start )) s wall time; report: results/latest/quick/report.html (as text: results/latest/quick/summary.txt)" >&2
exit "$status"
