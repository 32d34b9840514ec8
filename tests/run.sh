#!/usr/bin/env bash
# Builds once, runs each test project in turn (they start real servers; running them one at a time keeps a 2-core
# machine honest; TEST_PROJECTS=... runs only those, as make e2e does), and ends with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-Release}
bash tests/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
# The real control-plane lanes (kube-apiserver + kube-controller-manager v1.28, etcd; kubelet, kube-proxy and
# kube-scheduler for the real node): without the binaries those
# tests fail with one message saying so; the other tests still run.
if assets=$(bash tests/envtest-assets.sh --node); then export KUBEBUILDER_ASSETS=$assets; else echo "warning: KUBEBUILDER_ASSETS not set; the real control-plane tests will fail" >&2; fi
dotnet build GruOperator.sln -c "$CONFIG" || { echo "0 passed, 1 failed"; exit 1; }
results=$(mktemp -d)
status=0
for proj in ${TEST_PROJECTS:-$(find tests -name '*.Tests.csproj' | sort)}; do
  name=$(basename "$proj" .csproj)
  echo "=== $name"
  dotnet test "$proj" -c "$CONFIG" --no-build \
    --logger "trx;LogFileName=$results/$name.trx" --logger "console;verbosity=normal" ${TEST_FILTER:+--filter "$TEST_FILTER"} || status=1
done
passed=0; failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi   # a crashed test host counts
echo "$passed passed, $failed failed"
exit $status
