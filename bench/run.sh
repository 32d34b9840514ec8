#!/usr/bin/env bash
# Runs every benchmark; each writes its results under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
# ONNX Runtime (1.29+) sends telemetry by default; GruServer turns it off itself, this covers raw ONNX Runtime in the benches.
export ORT_DISABLE_TELEMETRY=1
mkdir -p bench/results
# GruServer: one infer over HTTP vs a direct InferenceSession.Run, then throughput at 1/8/32 clients with batching
# on/off vs raw ORT, then Stateful streaming steps/s over HTTP and the gRPC stream (about nine minutes, each server warmed for 20 s first;
# bench/results/gruserver-latency.md, gruserver-throughput.md and gruserver-streaming.md).
dotnet build bench/GruServer.Bench -c Release -v quiet -nologo
dotnet bench/GruServer.Bench/bin/Release/net10.0/GruServer.Bench.dll --output bench/results

# LocalCluster: create and watch 10,000 ConfigMaps through KubernetesClient over HTTPS (bench/results/local-cluster.json).
dotnet run -c Release --project bench/LocalCluster.Bench -- 10000 8 bench/results
# Operator: converge 1,000 GruModels after an operator restart against LocalCluster (bench/results/operator-restart.json).
dotnet build src/GruOperator -c Release
dotnet run -c Release --project bench/GruOperator.Bench -- 1000 10 "$PWD/bench/results" "$PWD/src/GruOperator/bin/Release/net10.0/gru-operator.dll"

# Canary analysis (issues 13 and 22): whole rollouts through the state machine and judge on simulated traffic, 500 seeds per
# scenario, 37 scenarios (about 2 min; --seeds 50 for a smoke run; --only TEXT for some scenarios; bench/results/analysis.md).
dotnet run -c Release --project bench/AnalysisBench -- --seeds 500 --out bench/results

# Registry: pull of a ~100 MB model with the GruRegistry client vs curl of the same blob (bench/results/registry-pull.md).
dotnet build bench/RegistryBench -c Release -v quiet -nologo
dotnet bench/RegistryBench/bin/Release/net10.0/RegistryBench.dll --output bench/results

# Canary rollouts on real processes (issue 10): the operator process on LocalCluster, a real Prometheus scraping real
# GruServer processes for stable and canary; breach-to-rollback time, false rollbacks of noisy healthy canaries, and the
# share of 30%-slower canaries compareToStable catches (about 12 min; --quick for one round of each;
# bench/results/canary-rollout.md).
dotnet build bench/CanaryBench -c Release -v quiet -nologo
dotnet bench/CanaryBench/bin/Release/net10.0/CanaryBench.dll --out bench/results
