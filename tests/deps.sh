#!/usr/bin/env bash
# Installs the real components the tests talk to, when they are missing: Prometheus, the
# OCI registry (Distribution 2.8), etcd (for the real control-plane lane), lua5.1 (Argo CD health check) and the image
# build's tools from Debian's packages, and xz to unpack kube-apiserver/kube-controller-manager (tests/envtest-assets.sh).
# kubectl is expected on PATH.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || need+=(prometheus)
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v lua5.1 >/dev/null 2>&1 || [ -x /usr/bin/lua5.1 ] || need+=(lua5.1)   # Argo CD health check tests (Argo CD runs Lua 5.1)
command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || need+=(etcd-server)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
# The image build test runs images/build.sh: skopeo pushes, gcc + libc6-dev (libc.a) build the static pause binary.
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # --no-install-recommends and policy-rc.d: we want the binaries, not system services started.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null; $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi
command -v kubectl >/dev/null 2>&1 || echo "warning: kubectl not on PATH; the kubectl tests will fail" >&2
