# gru-operator — one Makefile for the server, the operator, LocalCluster and their tests.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
SAMPLE_MODEL := config/samples/models/sample-gru.onnx

.PHONY: all build test serve bench build-gpu cluster run manifests deps clean

all: build

build:
	$(DOTNET) build GruOperator.sln -c $(CONFIG)

## Installs what the tests need (Prometheus, the registry) when missing, builds, runs every test project.
test:
	bash tests/run.sh

deps:
	bash tests/deps.sh

## GruServer on the bundled sample model: inference at 127.0.0.1:8080, metrics at :9464.
serve:
	$(DOTNET) run -c $(CONFIG) --project src/GruServer -- --model $(CURDIR)/$(SAMPLE_MODEL) --model-name sample-gru --host 127.0.0.1 --port 8080 --metrics-port 9464

## Benchmarks; results are written under bench/results/.
bench:
	bash bench/run.sh

## GruServer published with the CUDA flavour of ONNX Runtime, plus a CPU-fallback smoke test.
## Its bin/obj live under out/gpu-build so the CPU build the tests use is never overwritten.
build-gpu:
	$(DOTNET) publish src/GruServer -c $(CONFIG) -p:OnnxRuntimePackage=Microsoft.ML.OnnxRuntime.Gpu --artifacts-path out/gpu-build -o out/gruserver-gpu
	bash tests/gpu-smoke.sh

## An embedded Kubernetes API server on 127.0.0.1 with a kubeconfig; runs until Ctrl-C.
cluster:
	$(DOTNET) run -c $(CONFIG) --project src/LocalCluster --

## The operator against the current kubeconfig context.
run:
	$(DOTNET) run -c $(CONFIG) --project src/GruOperator --

## Regenerates config/crds from the C# types.
manifests:
	$(DOTNET) run -c $(CONFIG) --project src/GruOperator -- manifests --output config/crds

clean:
	$(DOTNET) clean GruOperator.sln -c $(CONFIG)
	rm -rf out artifacts
