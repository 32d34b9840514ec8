#!/usr/bin/env bash
# Installs the real components the tests talk to, when they are missing, from Debian's packages: Prometheus, the OCI
# registry (Distribution 2.8), etcd (the real control plane), lua5.1 (Argo CD health check), the image build's tools,
# the real node's (containerd, runc, CNI plugins, iptables, conntrack, jq, openssl), and xz to unpack the Kubernetes
# binaries (tests/envtest-assets.sh). kubectl is expected on PATH.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || need+=(prometheus)
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v lua5.1 >/dev/null 2>&1 || [ -x /usr/bin/lua5.1 ] || need+=(lua5.1)   # Argo CD health check tests (Argo CD runs Lua 5.1)
command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || need+=(etcd-server)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
# The real-node lane (tests/e2e, `make e2e`): containerd, runc, CNI plugins, iptables, conntrack; jq for its pod
# discovery; openssl for its certificates.
command -v containerd >/dev/null 2>&1 || need+=(containerd)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || need+=(iptables)
command -v conntrack >/dev/null 2>&1 || [ -x /usr/sbin/conntrack ] || need+=(conntrack)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The images (images/build.sh; the image test and the real-node lane build them): skopeo pushes, gcc + libc6-dev (libc.a) build the static pause binary.
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
