#!/usr/bin/env bash
# The merge job of a night split over CI runners: `scripts/nightly-merge.sh DIR`
# puts together every shard run found under DIR (the shard jobs' artifacts) as
# one run in the persistent results root, the history the change-point
# detection reads, and analyses it like a sweep. Exit 1 on a regression, failed
# repetitions or missing shards; the summary and JUnit file are then at
# $ROOT/latest/<scenario>/{summary.md,junit.xml}.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:?usage: scripts/nightly-merge.sh DIR}"
ROOT="${IOMMU_LAB_RESULTS:-/var/lib/iommu-lab/results}"
mapfile -t runs < <(find "$DIR" -name run.json -printf '%h\n' | sort)
if [ "${#runs[@]}" -eq 0 ]; then echo "no shard runs under $DIR" >&2; exit 1; fi
exec node bin/iommu-lab.js merge "${runs[@]}" --results "$ROOT" ${IOMMU_LAB_ALLOW_MISSING:+--allow-missing}
