#!/usr/bin/env bash
# One shard of a night split over CI runners: `scripts/nightly-shard.sh I/N OUT`
# sweeps shard I of N of the nightly scenario into this runner's shard root
# (persistent, so a re-run of a failed job completes its run instead of
# starting over) and copies the shard's run directory into OUT for the merge
# job (scripts/nightly-merge.sh). Exit 1 when repetitions failed: the run is
# still copied, and the merge reports what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARD="${1:?usage: scripts/nightly-shard.sh I/N OUT}"
OUT="${2:?usage: scripts/nightly-shard.sh I/N OUT}"
ROOT="${IOMMU_LAB_SHARD_RESULTS:-/var/lib/iommu-lab/shards}"
SCENARIO="${IOMMU_LAB_SCENARIO:-scenarios/nightly.yaml}"
scripts/start-libvirtd.sh
mkdir -p "$ROOT" "$OUT"
code=0
node bin/iommu-lab.js sweep "$SCENARIO" --results "$ROOT" --shard "$SHARD" --json > "$ROOT/last-shard.json" || code=$?
dir=$(node -e 'try { console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).dir ?? "") } catch { console.log("") }' "$ROOT/last-shard.json")
if [ -z "$dir" ]; then
  echo "shard $SHARD made no run (exit $code); see the output above" >&2
  exit "$([ "$code" -ne 0 ] && echo "$code" || echo 1)"
fi
cp -a "$dir" "$OUT/"
exit "$code"
