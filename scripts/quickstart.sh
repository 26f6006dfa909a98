#!/usr/bin/env bash
# The README's first command: install what is needed, then run the quick scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
node bin/iommu-lab.js validate scenarios/quick.yaml
node bin/iommu-lab.js plan scenarios/quick.yaml
