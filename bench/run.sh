#!/usr/bin/env bash
# Runs every benchmark; each writes its results under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
echo "no benchmarks yet"
# Canary analysis: breach-to-Failed time and false Failed verdicts (about 10 min; --quick for a smoke run).
dotnet run -c Release --project bench/AnalysisBench -- --out bench/results
