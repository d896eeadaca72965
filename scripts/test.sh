#!/usr/bin/env bash
# The test command of the README: builds and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# Real weights (DCGAN, LPIPS heads) from PyPI: the tests that need them skip without them.
bash models/fetch.sh || echo "warning: models/fetch.sh failed; tests that need the real weights will be skipped"
swift build --build-tests
# `iloc batch` on a real single-node Slurm cluster (as root; installs slurm and munge; skips otherwise)
bash scripts/test-slurm.sh
swift test --skip-build
