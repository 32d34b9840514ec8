#!/usr/bin/env bash
# Smoke test of the GPU build (out/gruserver-gpu, from `make build-gpu`) on a machine without a GPU:
#   --execution-provider Auto must serve on CPU and say so in its log, its model metadata and gru_model_info;
#   --execution-provider CUDA must refuse to start with a clear error and a non-zero exit code.
# Exits non-zero, naming the broken expectation, when either behaviour is wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=${SERVER:-out/gruserver-gpu/GruServer.dll}
MODEL=${MODEL:-config/samples/models/sample-gru.onnx}
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

fail() { echo "gpu-smoke: FAIL: $*" >&2; [ -f "$work/log" ] && sed 's/^/  | /' "$work/log" >&2; exit 1; }
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

[ -f "$SERVER" ] || fail "$SERVER not found; run make build-gpu first"
[ -f "$(dirname "$SERVER")/runtimes/linux-x64/native/libonnxruntime_providers_cuda.so" ] \
  || fail "$SERVER is not the GPU flavour: libonnxruntime_providers_cuda.so is missing next to it"

# 1. Auto on a GPU-less machine: serves on CPU and says so.
port=$(free_port); metrics=$(free_port)
dotnet "$SERVER" --model "$MODEL" --model-name smoke --host 127.0.0.1 --port "$port" --metrics-port "$metrics" \
  --execution-provider Auto >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  curl -fs "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || fail "Auto: the server exited before becoming ready"
  sleep 0.5
done
curl -fs "http://127.0.0.1:$port/v2/health/ready" >/dev/null || fail "Auto: not ready after 60s"
grep -q "CUDA unavailable" "$work/log" && grep -q "serving on CPU" "$work/log" \
  || fail "Auto: no log line saying CUDA is unavailable and the model is served on CPU"
curl -fs "http://127.0.0.1:$port/v2/models/smoke" | grep -q '"execution_provider":"CPU"' \
  || fail "Auto: model metadata does not report execution_provider CPU"
curl -fs "http://127.0.0.1:$metrics/metrics" | grep -q 'gru_model_info{.*execution_provider="CPU"' \
  || fail "Auto: gru_model_info does not report execution_provider=\"CPU\""
kill -TERM "$pid"; wait "$pid" || fail "Auto: exit code $? after SIGTERM (expected 0)"
pid=""
echo "gpu-smoke: Auto serves on CPU and reports it in log, metadata and gru_model_info"

# 2. CUDA on a GPU-less machine: refuses to start, clearly.
port=$(free_port); metrics=$(free_port)
set +e
timeout 120 dotnet "$SERVER" --model "$MODEL" --model-name smoke --host 127.0.0.1 --port "$port" --metrics-port "$metrics" \
  --execution-provider CUDA >"$work/log" 2>&1
code=$?
set -e
[ "$code" -ne 0 ] || fail "CUDA: the server exited 0; it must refuse to start without CUDA"
[ "$code" -ne 124 ] || fail "CUDA: the server kept running; it must refuse to start without CUDA"
grep -q "CUDA was requested but CUDA is unavailable" "$work/log" || fail "CUDA: no clear error saying CUDA is unavailable"
echo "gpu-smoke: CUDA refuses to start (exit $code) with a clear error"
