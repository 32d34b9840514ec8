#!/usr/bin/env bash
# Runs every benchmark; each writes its results under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
# GruServer: one infer over HTTP vs a direct InferenceSession.Run (about a minute).
dotnet build bench/GruServer.Bench -c Release -v quiet -nologo
dotnet bench/GruServer.Bench/bin/Release/net10.0/GruServer.Bench.dll --output bench/results
# Canary analysis: breach-to-Failed time and false Failed verdicts (about 10 min; --quick for a smoke run).
dotnet run -c Release --project bench/AnalysisBench -- --out bench/results
