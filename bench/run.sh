#!/usr/bin/env bash
# Runs every benchmark; each writes its results under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
echo "no benchmarks yet"
