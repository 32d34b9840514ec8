#!/usr/bin/env bash
# Prints the directory to use as KUBEBUILDER_ASSETS (the envtest convention: kube-apiserver and
# kube-controller-manager binaries; with --node also kubelet, kube-proxy and kube-scheduler for the real-node lane).
# A KUBEBUILDER_ASSETS already set (e.g. from `setup-envtest use -p path 1.28.x`) wins; otherwise ../shared/envtest/*.xz
# (or $ENVTEST_ARCHIVES) is unpacked into .tmp/envtest once, sha256-checked.
set -euo pipefail
cd "$(dirname "$0")/.."
bins=(kube-apiserver kube-controller-manager)
[ "${1:-}" = --node ] && bins+=(kubelet kube-proxy kube-scheduler)
if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  for bin in "${bins[@]}"; do
    [ -x "$KUBEBUILDER_ASSETS/$bin" ] || { echo "envtest: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no $bin" >&2; exit 1; }
  done
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi
archives=${ENVTEST_ARCHIVES:-../shared/envtest}
dest=.tmp/envtest
# v1.28.7 linux/amd64, from ../shared/envtest/README.md
declare -A sha256=(
  [kube-apiserver]=ae979a6ee2054b58acbe9cfecc724366cfed79843f6032e692882278094b7f5d
  [kube-controller-manager]=f2e6f83cf663aabaece3516b770226007e76765c3d4802659c5920c77d247a5a
  [kubelet]=bebb01828d6a705746275bd7808955b574ecf8f96ef80e1141ebc56944b69004
  [kube-proxy]=fa5f7e94f02f49649b6305fdea424c693a999676d7ade25cbe2d4f9770b7c137
  [kube-scheduler]=f138352c78652c154ecc3a5f4b72c225c6d37f9813497cc23d8c14e552d8c8e7
)
mkdir -p "$dest"
for bin in "${bins[@]}"; do
  if echo "${sha256[$bin]}  $dest/$bin" | sha256sum -c --status 2>/dev/null; then continue; fi
  if [ ! -f "$archives/$bin.xz" ]; then
    echo "envtest: $archives/$bin.xz not found; set ENVTEST_ARCHIVES to the folder holding it, or KUBEBUILDER_ASSETS to setup-envtest binaries" >&2
    exit 1
  fi
  xz -dc "$archives/$bin.xz" > "$dest/$bin.part"
  if ! echo "${sha256[$bin]}  $dest/$bin.part" | sha256sum -c --status; then
    rm -f "$dest/$bin.part"
    echo "envtest: $archives/$bin.xz does not unpack to the expected sha256 ${sha256[$bin]}" >&2
    exit 1
  fi
  chmod +x "$dest/$bin.part" && mv "$dest/$bin.part" "$dest/$bin"
done
echo "$PWD/$dest"
