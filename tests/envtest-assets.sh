#!/usr/bin/env bash
# Prints the directory to use as KUBEBUILDER_ASSETS (the envtest convention: kube-apiserver and
# kube-controller-manager binaries). A KUBEBUILDER_ASSETS already set (e.g. from `setup-envtest use -p path 1.28.x`)
# wins; otherwise ../shared/envtest/*.xz (or $ENVTEST_ARCHIVES) is unpacked into .tmp/envtest once, sha256-checked.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then echo "$KUBEBUILDER_ASSETS"; exit 0; fi
archives=${ENVTEST_ARCHIVES:-../shared/envtest}
dest=.tmp/envtest
# v1.28.7 linux/amd64, from ../shared/envtest/README.md
declare -A sha256=(
  [kube-apiserver]=ae979a6ee2054b58acbe9cfecc724366cfed79843f6032e692882278094b7f5d
  [kube-controller-manager]=f2e6f83cf663aabaece3516b770226007e76765c3d4802659c5920c77d247a5a
)
mkdir -p "$dest"
for bin in kube-apiserver kube-controller-manager; do
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
