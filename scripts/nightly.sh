#!/usr/bin/env bash
# One night of the lab: sweep the nightly scenario into a persistent results
# root (the history the change-point detection reads), keep the last 90 runs.
# Exit 1 on a regression or failed cells; the Markdown summary and the JUnit
# file are then at $ROOT/latest/<scenario>/{summary.md,junit.xml}.
# Two sweeps never overlap on one host: the sweep takes a lock in $ROOT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${IOMMU_LAB_RESULTS:-/var/lib/iommu-lab/results}"
SCENARIO="${IOMMU_LAB_SCENARIO:-scenarios/nightly.yaml}"
scripts/start-libvirtd.sh
exec node bin/iommu-lab.js sweep "$SCENARIO" --results "$ROOT" --keep-runs "${IOMMU_LAB_KEEP_RUNS:-90}" "$@"
