# gru-operator — one Makefile for the server, the operator, LocalCluster and their tests.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
SAMPLE_MODEL := config/samples/models/sample-gru.onnx

.PHONY: all build demo test e2e serve bench build-gpu cluster node-agent run manifests deps clean install images

all: build

build:
	$(DOTNET) build GruOperator.sln -c $(CONFIG)

## The whole canary story on this machine: LocalCluster (or the cluster in KUBECONFIG with DEMO_CLUSTER=current), the node
## agent, Prometheus, a registry, the operator and a load generator; v1 deployed, v2 promoted by canary analysis, a slow v3
## rolled back, shown live. DEMO_ARGS="--plain" for lines, "--keep" to keep the logs. Stops everything on exit or Ctrl-C.
demo:
	@# As make test does: what is missing (Prometheus, the registry, ...) is installed from Debian's packages first,
	@# so on a fresh machine make demo alone runs the demo; the demo still checks its tools and ports itself.
	bash tests/deps.sh
	$(DOTNET) build src/GruDemo -c $(CONFIG) -nologo -v quiet
	$(DOTNET) src/GruDemo/bin/$(CONFIG)/net10.0/gru-demo.dll $(DEMO_ARGS)

## Installs what the tests need (Prometheus, the registry) when missing, builds, runs every test project.
test:
	bash tests/run.sh

deps:
	bash tests/deps.sh

## The real-node lane alone (also part of make test): a v1.28 control plane and one real node (kubelet, containerd, CNI,
## kube-proxy) on this machine, as root; images built and pushed to its registry; the operator installed with
## kubectl apply -k; samples, a canary promoted and one rolled back. Leaves the machine as it found it (tests/e2e/lane.sh).
e2e:
	TEST_PROJECTS=tests/E2E.Tests/E2E.Tests.csproj bash tests/run.sh

## GruServer on the bundled sample model: inference at 127.0.0.1:8080, metrics at :9464.
serve:
	$(DOTNET) run -c $(CONFIG) --project src/GruServer -- --model $(CURDIR)/$(SAMPLE_MODEL) --model-name sample-gru --host 127.0.0.1 --port 8080 --metrics-port 9464

## Benchmarks; results are written under bench/results/.
bench:
	bash bench/run.sh

## The container images (runtime-deps base, pause, gru-server, gru-operator, gru-model), built without a Docker daemon and
## pushed to REGISTRY (host:port[/prefix]); TAG defaults to the project's <Version>. Prints "image NAME REF@DIGEST" lines.
## e.g. make images REGISTRY=127.0.0.1:5000/gru
images:
	@test -n "$(REGISTRY)" || { echo "make images: set REGISTRY=host:port[/prefix], e.g. make images REGISTRY=127.0.0.1:5000/gru" >&2; exit 2; }
	bash images/build.sh --registry $(REGISTRY) $(if $(TAG),--tag $(TAG))

## GruServer published with the CUDA flavour of ONNX Runtime, plus a CPU-fallback smoke test.
## Its bin/obj live under out/gpu-build so the CPU build the tests use is never overwritten.
build-gpu:
	$(DOTNET) publish src/GruServer -c $(CONFIG) -p:OnnxRuntimePackage=Microsoft.ML.OnnxRuntime.Gpu --artifacts-path out/gpu-build -o out/gruserver-gpu
	bash tests/gpu-smoke.sh

## An embedded Kubernetes API server on 127.0.0.1 with a kubeconfig; runs until Ctrl-C.
## Deployment controller and auto-ready pods are on: e.g. make cluster CLUSTER_PORT=7443 CLUSTER_ARGS="--auto-ready-pods false".
CLUSTER_KUBECONFIG ?= .tmp/local-cluster/kubeconfig
CLUSTER_PORT ?= 6443
cluster:
	$(DOTNET) run -c $(CONFIG) --project src/LocalCluster -- --kubeconfig $(abspath $(CLUSTER_KUBECONFIG)) --port $(CLUSTER_PORT) $(CLUSTER_ARGS)

## The node agent (a simulated node running pods as local processes) joined to the make-cluster kubeconfig (or AGENT_KUBECONFIG).
## e.g. make node-agent AGENT_ARGS="--gpus 1 --discovery-url http://127.0.0.1:9099"
AGENT_KUBECONFIG ?= $(CLUSTER_KUBECONFIG)
node-agent:
	$(DOTNET) run -c $(CONFIG) --project src/GruNodeAgent -- --kubeconfig $(abspath $(AGENT_KUBECONFIG)) $(AGENT_ARGS)

## The operator against the current kubeconfig context (one local instance: no leader election).
## Extra flags: make run ARGS="--namespaces ml --workers 8"; other ports: make run METRICS_PORT=18080 HEALTH_PORT=18081
## (the command line refuses a flag given twice, so the ports are variables rather than ARGS).
METRICS_PORT ?= 8080
HEALTH_PORT ?= 8081
run:
	$(DOTNET) run -c $(CONFIG) --project src/GruOperator -- --leader-elect false --metrics-port $(METRICS_PORT) --health-port $(HEALTH_PORT) $(ARGS)

## Regenerates config/crds from the C# types.
manifests:
	$(DOTNET) run -c $(CONFIG) --project src/GruOperator -- manifests --output $(CURDIR)/config/crds

clean:
	$(DOTNET) clean GruOperator.sln -c $(CONFIG)
	rm -rf out artifacts

## `kubectl gru`: publishes kubectl-gru to $(PREFIX)/lib/kubectl-gru and links it as $(PREFIX)/bin/kubectl-gru,
## where kubectl finds plugins (PREFIX=$(HOME)/.local by default; make sure $(PREFIX)/bin is on PATH).
PREFIX ?= $(HOME)/.local
install:
	$(DOTNET) publish src/KubectlGru -c $(CONFIG) -o $(PREFIX)/lib/kubectl-gru
	mkdir -p $(PREFIX)/bin
	ln -sf $(PREFIX)/lib/kubectl-gru/kubectl-gru $(PREFIX)/bin/kubectl-gru
	@echo "installed $(PREFIX)/bin/kubectl-gru; try: kubectl gru list -A"
