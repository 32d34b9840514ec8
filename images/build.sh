#!/usr/bin/env bash
# Builds the project's container images and pushes them to a registry, with no Docker daemon and no base image from
# the internet:
#   runtime-deps  the runtime base: the Debian packages .NET's runtime-deps image has, plus a non-root user 10001
#   pause         the pod sandbox image for a test node: a static binary that sleeps until SIGTERM/SIGINT
#   gru-server, gru-operator, gru-model   `dotnet publish -t:PublishContainer` (self-contained linux-x64) on that base
#
#   images/build.sh --registry HOST:PORT[/prefix] [--tag TAG] [--plain-http]
#
# The tag defaults to <Version> in Directory.Build.props. Registries on localhost/127.x are spoken to over plain http;
# --plain-http says so for any other. The last lines name what was pushed, one per image, for callers to parse:
#   image NAME REGISTRY/NAME:TAG@sha256:DIGEST
#
# Why apt-get download + dpkg-deb -x rather than mmdebstrap: the base holds shared libraries and data only (no shell,
# no dpkg database, no maintainer scripts to run), so unpacking the seven packages is all an install would do; it
# needs no root, no user namespaces, and takes seconds. The layer is written with fixed owners, order and times, so an
# unchanged base has the same digest and pushing it again uploads nothing. skopeo (Debian) pushes the OCI layouts.
set -euo pipefail
shopt -s inherit_errexit   # a failed push inside $(...) stops the build too

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
registry=""
tag=""
plain_http=""
while (($#)); do
  case "$1" in
    --registry) registry=${2:?--registry needs HOST:PORT[/prefix]}; shift 2 ;;
    --registry=*) registry=${1#*=}; shift ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --plain-http) plain_http=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "images/build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
registry=${registry%/}
if [[ -z "$registry" ]]; then
  echo "images/build.sh: --registry HOST:PORT[/prefix] is required, e.g. --registry 127.0.0.1:5000/gru" >&2
  exit 2
fi
host=${registry%%/*}
prefix=""
[[ "$registry" == */* ]] && prefix=${registry#*/}/
if [[ -z "$tag" ]]; then
  tag=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n1)
  [[ -n "$tag" ]] || { echo "images/build.sh: no <Version> in Directory.Build.props; pass --tag" >&2; exit 2; }
fi
case "$host" in localhost|localhost:*|127.*) plain_http=1 ;; esac

work=${GRU_IMAGES_WORK:-$root/out/images}
mkdir -p "$work"
started=$SECONDS
say() { echo "images: $* ($((SECONDS - started)) s)" >&2; }

# --- tools -----------------------------------------------------------------------------------------------------------
# skopeo pushes OCI layouts; gcc + libc6-dev (libc.a) build the static pause binary; dpkg-deb and apt-get come with
# Debian. Missing ones are installed from the Debian mirror apt already uses, as make test does for its servers.
missing=()
command -v skopeo >/dev/null || missing+=(skopeo)
command -v gcc >/dev/null || missing+=(gcc)
[[ -e /usr/lib/x86_64-linux-gnu/libc.a ]] || missing+=(libc6-dev)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "images/build.sh: missing ${missing[*]}; install them: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
fi
tls=()
[[ -n "$plain_http" ]] && tls=(--dest-tls-verify=false)

# --- OCI layout of a one-layer image ---------------------------------------------------------------------------------
sha() { sha256sum "$1" | cut -d' ' -f1; }

# oci_image LAYOUT ROOTFS CONFIG_JSON_WITHOUT_ROOTFS: writes an OCI image layout holding ROOTFS as one gzip layer.
# Every entry is owned by root except /home/*, which belongs to its user; times are the epoch, order is by name.
oci_image() {
  local layout=$1 rootfs=$2 config=$3
  rm -rf "$layout" && mkdir -p "$layout/blobs/sha256"
  local tarball="$layout/layer.tar"
  tar --create --file "$tarball" --directory "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime --exclude=./home/* .
  local homes=()
  [[ -d "$rootfs/home" ]] && mapfile -t homes < <(cd "$rootfs" && find ./home -mindepth 1 -maxdepth 1 | LC_ALL=C sort)
  if ((${#homes[@]})); then
    tar --append --file "$tarball" --directory "$rootfs" --sort=name --mtime=@0 --owner=10001 --group=10001 --numeric-owner \
      --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime "${homes[@]}"
  fi
  local diff_id; diff_id=$(sha "$tarball")
  gzip -n -6 "$tarball"
  local layer; layer=$(sha "$tarball.gz")
  local layer_size; layer_size=$(stat -c %s "$tarball.gz")
  mv "$tarball.gz" "$layout/blobs/sha256/$layer"
  printf '%s' "${config%\}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff_id\"]}}" > "$layout/config.json"
  local cfg; cfg=$(sha "$layout/config.json")
  local cfg_size; cfg_size=$(stat -c %s "$layout/config.json")
  mv "$layout/config.json" "$layout/blobs/sha256/$cfg"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$cfg" "$cfg_size" "$layer" "$layer_size" > "$layout/manifest.json"
  local manifest; manifest=$(sha "$layout/manifest.json")
  local manifest_size; manifest_size=$(stat -c %s "$layout/manifest.json")
  mv "$layout/manifest.json" "$layout/blobs/sha256/$manifest"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"image"}}]}' \
    "$manifest" "$manifest_size" > "$layout/index.json"
}

# push LAYOUT NAME: copies the layout's image to REGISTRY/NAME:TAG unchanged (blobs the registry has are skipped) and
# prints its manifest digest.
push() {
  local layout=$1 name=$2
  skopeo copy --quiet "${tls[@]}" --digestfile "$layout/pushed-digest" "oci:$layout:image" "docker://$registry/$name:$tag" >&2
  cat "$layout/pushed-digest"
}

# Digest of an image the .NET SDK pushed (it prints none we can rely on).
remote_digest() {
  local src_tls=()
  [[ -n "$plain_http" ]] && src_tls=(--tls-verify=false)
  skopeo inspect "${src_tls[@]}" --format '{{.Digest}}' "docker://$registry/$1:$tag"
}

declare -A pushed

# --- runtime-deps ----------------------------------------------------------------------------------------------------
# What mcr.microsoft.com/dotnet/runtime-deps has (InvariantGlobalization is on, so no ICU). Bookworm names.
packages=(libc6 libgcc-s1 libstdc++6 libssl3 zlib1g ca-certificates tzdata)
user_id=10001
debs="$work/debs"
mkdir -p "$debs"
versions=$(apt-cache policy "${packages[@]}" | awk '/^[^ ]/{p=$1; sub(/:$/, "", p)} /Candidate:/{print p, $2}')
if grep -q '(none)' <<<"$versions"; then
  apt-get update -q >/dev/null
  versions=$(apt-cache policy "${packages[@]}" | awk '/^[^ ]/{p=$1; sub(/:$/, "", p)} /Candidate:/{print p, $2}')
fi
# The cache key: the package versions and this script. Same key, same layout: nothing is unpacked or compressed again.
key=$( { echo "$versions"; cat "${BASH_SOURCE[0]}"; } | sha256sum | cut -d' ' -f1)
base_layout="$work/runtime-deps"
if [[ "$(cat "$base_layout/key" 2>/dev/null)" != "$key" ]]; then
  say "runtime-deps: downloading ${packages[*]}"
  (cd "$debs" && apt-get download -q "${packages[@]}" >/dev/null 2>&1) || {
    apt-get update -q >/dev/null
    (cd "$debs" && apt-get download -q "${packages[@]}" >/dev/null)
  }
  rootfs="$work/runtime-deps-rootfs"
  rm -rf "$rootfs" && mkdir -p "$rootfs"
  while read -r package version; do
    # apt-get download writes an epoch's colon as %3a in the file name: match on the package's own Version field.
    deb=""
    for candidate in "$debs/${package}_"*.deb; do
      [[ -e "$candidate" && "$(dpkg-deb --field "$candidate" Version)" == "$version" ]] && deb=$candidate
    done
    [[ -n "$deb" ]] || { echo "images/build.sh: apt-get download gave no .deb for $package $version" >&2; exit 1; }
    dpkg-deb --extract "$deb" "$rootfs"
  done <<<"$versions"
  # Documentation is not needed at run time; the copyright files stay, as Debian's licences ask.
  find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
  find "$rootfs/usr/share/doc" -type l -delete
  rm -rf "$rootfs/usr/share/man" "$rootfs/usr/share/info" "$rootfs/usr/share/lintian" "$rootfs/usr/share/bug"
  # What the packages' maintainer scripts would have done: the CA bundle (update-ca-certificates takes every
  # certificate by default), OpenSSL's default paths (the openssl package's symlinks), UTC as local time.
  mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/usr/lib/ssl"
  find "$rootfs/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | xargs cat > "$rootfs/etc/ssl/certs/ca-certificates.crt"
  ln -sfn /etc/ssl/certs "$rootfs/usr/lib/ssl/certs"
  ln -sfn /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/lib/ssl/cert.pem"
  ln -sfn /usr/share/zoneinfo/Etc/UTC "$rootfs/etc/localtime"
  echo Etc/UTC > "$rootfs/etc/timezone"
  # The user the operator's pods run as (runAsUser 10001); no shell, no password.
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\ngru:x:%s:%s:gru:/home/gru:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
    "$user_id" "$user_id" > "$rootfs/etc/passwd"
  printf 'root:x:0:\ngru:x:%s:\nnogroup:x:65534:\n' "$user_id" > "$rootfs/etc/group"
  # Mount points a runtime would otherwise create itself (proc, dev, sys, and /tmp, where the pods mount an emptyDir).
  mkdir -p "$rootfs/home/gru" "$rootfs/root" "$rootfs/tmp" "$rootfs/proc" "$rootfs/dev" "$rootfs/sys"
  chmod 1777 "$rootfs/tmp"
  chmod 0700 "$rootfs/root"
  oci_image "$base_layout" "$rootfs" "$(printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"User":"%s:%s","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","APP_UID=%s","DOTNET_RUNNING_IN_CONTAINER=true"],"WorkingDir":"/","Labels":{"org.opencontainers.image.title":"runtime-deps","org.opencontainers.image.description":"Debian bookworm: %s"}}}' \
    "$user_id" "$user_id" "$user_id" "$(tr '\n' ' ' <<<"$versions" | sed 's/ $//')")"
  echo "$key" > "$base_layout/key"
  rm -rf "$rootfs"
fi
pushed[runtime-deps]=$(push "$base_layout" runtime-deps)
say "runtime-deps pushed"

# --- pause -----------------------------------------------------------------------------------------------------------
pause_layout="$work/pause"
pause_key=$(cat "$root/images/pause/pause.c" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$pause_layout/key" 2>/dev/null)" != "$pause_key" ]]; then
  rootfs="$work/pause-rootfs"
  rm -rf "$rootfs" && mkdir -p "$rootfs"
  gcc -static -Os -s -o "$rootfs/pause" "$root/images/pause/pause.c"
  oci_image "$pause_layout" "$rootfs" '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"User":"65535:65535","Entrypoint":["/pause"],"WorkingDir":"/","Labels":{"org.opencontainers.image.title":"pause"}}}'
  echo "$pause_key" > "$pause_layout/key"
  rm -rf "$rootfs"
fi
pushed[pause]=$(push "$pause_layout" pause)
say "pause pushed"

# --- .NET images -----------------------------------------------------------------------------------------------------
# Each image is defined by its project (ContainerRepository, entrypoint, ports) and src/Containers.props (user, base);
# here only where it goes. GruImageRegistry/GruImageTag also become the operator's default server and fetcher images.
# Builds go under out/images so they never replace the builds the tests run.
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [[ -n "$plain_http" ]]; then
  export DOTNET_CONTAINER_INSECURE_REGISTRIES="$host" SDK_CONTAINER_INSECURE_REGISTRIES="$host"
fi
# The operator last: its default server and fetcher images are pinned to the digests just pushed (a tag can be moved
# under a running cluster; a digest cannot).
for project in GruServer:gru-server GruModelCli:gru-model GruOperator:gru-operator; do
  name=${project#*:}
  pins=()
  [[ "$name" == gru-operator ]] && pins=(-p:GruServerImageDigest="@${pushed[gru-server]}" -p:GruModelImageDigest="@${pushed[gru-model]}")
  say "$name: dotnet publish -t:PublishContainer"
  dotnet publish "$root/src/${project%%:*}" -c Release -r linux-x64 --self-contained -t:PublishContainer -nologo -v quiet \
    --artifacts-path "$work/build" \
    -p:ContainerBaseImage="$registry/runtime-deps:$tag@${pushed[runtime-deps]}" \
    -p:ContainerRegistry="$host" -p:GruImagePrefix="$prefix" \
    -p:GruImageRegistry="$registry" -p:GruImageTag="$tag" "${pins[@]}" >&2
  pushed[$name]=$(remote_digest "$name")
done

say "done"
for name in runtime-deps pause gru-server gru-operator gru-model; do
  echo "image $name $registry/$name:$tag@${pushed[$name]}"
done
