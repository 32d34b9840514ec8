#!/usr/bin/env bash
# The real-node lane (`make e2e`): a Kubernetes v1.28 cluster on this machine, as kind gives kubebuilder's test-e2e:
# etcd, kube-apiserver, kube-controller-manager (node lifecycle on), kube-scheduler, and one real node (kubelet,
# containerd + runc, CNI bridge, kube-proxy in iptables mode), a Distribution registry holding images built here
# (images/build.sh), all as root, under one lane directory.
#
#   lane.sh up DIR [OWNER_PID]   start everything; writes DIR/lane.env (KUBECONFIG, REGISTRY, NODE_IP, ...)
#   lane.sh down DIR             stop everything and leave the machine as it was found (also after a failed up)
#   lane.sh reap                 down every lane whose owner process is gone (a killed test host, a CI timeout)
#
# What the lane changes on the host, and how down puts it back: sysctls (saved before, restored), iptables rules and
# chains (KUBE-*, CNI-*, the lane's guard chain: removed, the rest of each table untouched), the node address on lo
# (removed), cgroups under the lane's cgroupRoot (removed), and the host paths kubelet, containerd and CNI write
# whatever their flags say (/var/log/pods, /var/log/containers, /var/lib/cni, /run/containerd, /var/run/netns:
# deleted only when the lane created them; network namespaces it created are deleted either way).
# Binaries: ../shared/envtest (KUBEBUILDER_ASSETS, see tests/envtest-assets.sh) and Debian's packages
# (make deps installs them).
set -euo pipefail

NODE_NAME=${GRU_E2E_NODE_NAME:-gru-e2e-node}
NODE_IP=${GRU_E2E_NODE_IP:-10.99.0.1}            # on lo: kubelet refuses 127.x, and this kernel has no dummy links
POD_CIDR=${GRU_E2E_POD_CIDR:-10.88.0.0/16}
SERVICE_CIDR=${GRU_E2E_SERVICE_CIDR:-10.0.0.0/24}  # the kubernetes Service is its first address, 10.0.0.1
BRIDGE=gru-e2e0
CGROUP_ROOT=gru-e2e
GUARD_CHAIN=GRU-E2E-GUARD
GPUS=${GRU_E2E_GPUS:-8}                          # simulated nvidia.com/gpu capacity: an extended resource, as the docs show
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward net.ipv4.conf.all.route_localnet
         net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv6.conf.all.forwarding)
HOST_PATHS=(/var/log/pods /var/log/containers /var/lib/cni /run/containerd /var/run/netns /var/lib/kubelet /opt/containerd /etc/cni)

log() { printf '[lane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { log "error: $*"; exit 1; }

free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 30000 ))
    if [ -z "$(ss -Hltn "sport = :$p")" ] && ! grep -qx "$p" "$LANE/ports" 2>/dev/null; then echo "$p" >> "$LANE/ports"; echo "$p"; return; fi
  done
}

# start NAME CMD...: a daemon in its own session, its output in DIR/logs/NAME.log, its pid in DIR/pids/NAME.
start() {
  local name=$1; shift
  setsid "$@" > "$LANE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$LANE/pids/$name"
}

wait_for() {  # wait_for SECONDS WHAT CMD...
  local seconds=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" > /dev/null 2>&1; do
    for f in "$LANE"/pids/*; do
      [ -e "$f" ] || continue
      kill -0 "$(cat "$f")" 2>/dev/null || fail "$(basename "$f") exited while waiting for $what; its log: $LANE/logs/$(basename "$f").log
$(tail -n 30 "$LANE/logs/$(basename "$f").log" 2>/dev/null)"
    done
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what not ready within ${seconds}s (logs in $LANE/logs)"
    sleep 0.5
  done
}

need() {
  local missing=()
  for tool in "$@"; do command -v "$tool" > /dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool"); done
  [ ${#missing[@]} -eq 0 ] || fail "missing: ${missing[*]} (run: make deps, as root)"
}

kubeconfig() {  # kubeconfig FILE TOKEN
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gru-e2e
  cluster:
    server: https://$NODE_IP:$API_PORT
    certificate-authority: $LANE/pki/ca.crt
contexts:
- name: gru-e2e
  context: {cluster: gru-e2e, user: user, namespace: default}
current-context: gru-e2e
users:
- name: user
  user: {token: $2}
EOF
}

certificates() {
  local pki=$LANE/pki
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=gru-e2e-ca \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2> /dev/null
  sign() {  # sign NAME SUBJECT EXTENSIONS
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$2" -keyout "$pki/$1.key" -out "$pki/$1.csr" 2> /dev/null
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 12)" -days 2 \
      -out "$pki/$1.crt" -extfile <(printf '%b' "$3") 2> /dev/null
  }
  sign apiserver /CN=kube-apiserver \
    "subjectAltName=IP:$NODE_IP,IP:127.0.0.1,IP:${SERVICE_CIDR%.*}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment"
  # kube-apiserver → kubelet (logs, exec): a client certificate the kubelet authorizes through SubjectAccessReview.
  sign kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment"
  openssl genrsa -out "$pki/sa.key" 2048 2> /dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2> /dev/null
  ADMIN_TOKEN=$(openssl rand -hex 24); KUBELET_TOKEN=$(openssl rand -hex 24); PROXY_TOKEN=$(openssl rand -hex 24)
  # The kubelet is system:node:<name> in system:nodes, so the Node authorizer and NodeRestriction judge it as in a
  # real cluster; kube-proxy is system:kube-proxy (bound to system:node-proxier by the bootstrap policy).
  cat > "$pki/tokens.csv" <<EOF
$ADMIN_TOKEN,admin,admin,system:masters
$KUBELET_TOKEN,system:node:$NODE_NAME,kubelet,system:nodes
$PROXY_TOKEN,system:kube-proxy,kube-proxy
EOF
}

control_plane() {
  local assets=$1 etcd_port peer_port
  etcd_port=$(free_port); peer_port=$(free_port); API_PORT=$(free_port)
  local etcd_bin=/usr/bin/etcd; [ -x "$assets/etcd" ] && etcd_bin=$assets/etcd
  mkdir -p "/dev/shm/$(basename "$LANE")-etcd"
  start etcd "$etcd_bin" --name gru-e2e --data-dir "/dev/shm/$(basename "$LANE")-etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-cluster-state new --log-level warn
  wait_for 60 etcd curl -sf "http://127.0.0.1:$etcd_port/health"
  cat > "$LANE/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
EOF
  local pki=$LANE/pki
  start kube-apiserver "$assets/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address="$NODE_IP" --secure-port="$API_PORT" --advertise-address="$NODE_IP" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
    --token-auth-file="$pki/tokens.csv" --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" --service-account-issuer=https://kubernetes.default.svc \
    --authorization-mode=Node,RBAC --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
    --enable-admission-plugins=NodeRestriction,OwnerReferencesPermissionEnforcement \
    --kubelet-preferred-address-types=InternalIP \
    --kubelet-client-certificate="$pki/kubelet-client.crt" --kubelet-client-key="$pki/kubelet-client.key" \
    --cert-dir="$LANE/apiserver-certs" --profiling=false \
    --audit-policy-file="$LANE/audit-policy.yaml" --audit-log-path="$LANE/audit.log" --audit-log-mode=blocking
  kubeconfig "$LANE/admin.kubeconfig" "$ADMIN_TOKEN"
  kubeconfig "$LANE/kubelet.kubeconfig" "$KUBELET_TOKEN"
  kubeconfig "$LANE/kube-proxy.kubeconfig" "$PROXY_TOKEN"
  wait_for 120 kube-apiserver curl -sf --cacert "$pki/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "https://$NODE_IP:$API_PORT/readyz"
  start kube-controller-manager "$assets/kube-controller-manager" --kubeconfig="$LANE/admin.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" --use-service-account-credentials=false \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --controllers='*,-nodeipam,-cloud-node-lifecycle,-route,-service,-persistentvolume-binder,-attachdetach'
  start kube-scheduler "$assets/kube-scheduler" --kubeconfig="$LANE/admin.kubeconfig" \
    --authentication-kubeconfig="$LANE/admin.kubeconfig" --authorization-kubeconfig="$LANE/admin.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port="$(free_port)"
  wait_for 60 "the default ServiceAccount" kubectl --kubeconfig "$LANE/admin.kubeconfig" get serviceaccount default -n default
}

registry() {
  REGISTRY_PORT=$(free_port)
  mkdir -p "$LANE/registry/data"
  cat > "$LANE/registry/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $LANE/registry/data}
  delete: {enabled: true}
http: {addr: "$NODE_IP:$REGISTRY_PORT"}
EOF
  start registry docker-registry serve "$LANE/registry/config.yml"
  REGISTRY=$NODE_IP:$REGISTRY_PORT
  wait_for 30 registry curl -sf "http://$REGISTRY/v2/"
}

# Prometheus on the node address (the operator's pods query it there), scraping pods found through the API server:
# Debian's Prometheus has no kubernetes_sd_configs, so tests/e2e/pod-discovery.sh turns the API server's pods into
# file_sd targets every 2 s with the labels a PodMonitor gives.
prometheus() {
  PROMETHEUS_PORT=$(free_port)
  mkdir -p "$LANE/prometheus/data"
  echo '[]' > "$LANE/prometheus/pods.json"
  cat > "$LANE/prometheus/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: pods
    file_sd_configs: [{files: ["$LANE/prometheus/pods.json"], refresh_interval: 2s}]
EOF
  start prometheus prometheus --config.file="$LANE/prometheus/prometheus.yml" --storage.tsdb.path="$LANE/prometheus/data" \
    --web.listen-address="$NODE_IP:$PROMETHEUS_PORT" --storage.tsdb.retention.time=2h --log.level=warn --query.lookback-delta=30s
  start pod-discovery bash "$REPO/tests/e2e/pod-discovery.sh" "$LANE/admin.kubeconfig" "$LANE/prometheus/pods.json"
  wait_for 60 prometheus curl -sf "http://$NODE_IP:$PROMETHEUS_PORT/-/ready"
}

images() {
  local tag=${GRU_E2E_IMAGE_TAG:-e2e}
  log "building and pushing images to $REGISTRY/gru (images/build.sh)"
  bash "$REPO/images/build.sh" --registry "$REGISTRY/gru" --tag "$tag" --plain-http > "$LANE/logs/images.log" 2>&1 \
    || fail "images/build.sh failed; its log: $LANE/logs/images.log
$(tail -n 30 "$LANE/logs/images.log")"
  IMAGE_TAG=$tag
  grep '^image ' "$LANE/logs/images.log" > "$LANE/images.txt"
}

# What "as found" means, in one listing: the sysctls the lane touches, iptables rules and non-default chains, links
# and addresses, mounts, the host paths and network namespaces, the lane's cgroups and processes. up writes it before
# touching anything; down compares after tearing down and fails naming every difference.
host_state() (
  set +e +o pipefail
  local s cmd
  for s in "${SYSCTLS[@]}"; do [ -e "/proc/sys/${s//.//}" ] && echo "sysctl $s=$(cat "/proc/sys/${s//.//}")"; done
  for cmd in iptables ip6tables; do
    command -v "$cmd-save" > /dev/null 2>&1 || continue
    # Built-in chains with the default ACCEPT policy come and go with a table's first use: not a change.
    "$cmd-save" 2> /dev/null | grep -E '^(\*|-A|:)' | sed -E 's/ \[[0-9]+:[0-9]+\]$//' \
      | grep -vE '^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT$' | grep -v '^\*' | sed "s/^/$cmd /" | sort
  done
  ip -o link show | awk '{print "link", $2}' | sed 's/@.*//' | sort
  ip -o addr show | awk '{print "addr", $2, $4}' | sort
  awk '{print "mount", $2}' /proc/mounts | sort
  for s in "${HOST_PATHS[@]}"; do [ -e "$s" ] && echo "path $s"; done
  ls /var/run/netns 2> /dev/null | sed 's/^/netns /' | sort
  ls -d /sys/fs/cgroup/*/"$CGROUP_ROOT" 2> /dev/null | sed 's/^/cgroup /'
  pgrep -af "gru-e2e-|$CGROUP_ROOT|containerd-shim" | grep -v "lane.sh\|pgrep" | awk '{$1=""; print "process" $0}' | sort
  true
)

host_snapshot() {
  host_state > "$LANE/host-state.before"
  : > "$LANE/sysctl.saved"
  for s in "${SYSCTLS[@]}"; do
    [ -e "/proc/sys/${s//.//}" ] && echo "$s=$(cat "/proc/sys/${s//.//}")" >> "$LANE/sysctl.saved"
  done
  : > "$LANE/host-paths.created"
  for p in "${HOST_PATHS[@]}"; do [ -e "$p" ] || echo "$p" >> "$LANE/host-paths.created"; done
  ls /var/run/netns 2> /dev/null | sort > "$LANE/netns.before" || true
  if ! ip -4 addr show dev lo | grep -q " $NODE_IP/"; then
    ip addr add "$NODE_IP/32" dev lo
    echo "$NODE_IP/32" > "$LANE/lo-address.added"
  fi
  # Pods may reach the node and each other, never anything beyond this machine.
  iptables -N "$GUARD_CHAIN"
  iptables -A "$GUARD_CHAIN" -d "$POD_CIDR" -j RETURN
  iptables -A "$GUARD_CHAIN" -j DROP
  iptables -I FORWARD -s "$POD_CIDR" -j "$GUARD_CHAIN"
  touch "$LANE/guard.added"
}

node() {
  local assets=$1 c
  # kubelet's cgroupRoot must exist in every v1 hierarchy it uses (cgroupfs driver).
  for c in /sys/fs/cgroup/*/; do
    [ "$(basename "$c")" = unified ] && continue
    mkdir -p "$c$CGROUP_ROOT"
  done
  cat /sys/fs/cgroup/cpuset/cpuset.cpus > "/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems > "/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.mems"

  mkdir -p "$LANE/cni/net.d" "$LANE/cni/ipam" "$LANE/containerd/certs.d/$REGISTRY" "$LANE/runc"
  cat > "$LANE/cni/net.d/10-gru-e2e.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "gru-e2e",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$LANE/cni/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  printf 'server = "http://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' "$REGISTRY" "$REGISTRY" \
    > "$LANE/containerd/certs.d/$REGISTRY/hosts.toml"
  cat > "$LANE/containerd/config.toml" <<EOF
version = 2
root = "$LANE/containerd/root"
state = "$LANE/containerd/state"
[grpc]
  address = "$LANE/containerd/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$LANE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REGISTRY/gru/pause:$IMAGE_TAG"
  # This VM lacks CAP_SYS_RESOURCE: without it every sandbox fails in runc (oom_score_adj: permission denied).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$LANE/runc"
    # What the NVIDIA container toolkit registers on a GPU node; plain runc here (pods run on CPU), so GruModels that
    # name runtimeClassName: nvidia (config/samples/gpu-canary.yaml) run as they would there.
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
        SystemdCgroup = false
        Root = "$LANE/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$LANE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$LANE/containerd/certs.d"
EOF
  start containerd containerd --config "$LANE/containerd/config.toml"
  wait_for 30 containerd ctr --address "$LANE/containerd/containerd.sock" version

  KUBELET_PORT=$(free_port)
  cat > "$LANE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(free_port)
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $LANE/pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$LANE/containerd/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
failSwapOn: false
makeIPTablesUtilChains: false
protectKernelDefaults: false
serializeImagePulls: false
resolvConf: /etc/resolv.conf
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
  start kubelet "$assets/kubelet" --config="$LANE/kubelet.yaml" --kubeconfig="$LANE/kubelet.kubeconfig" \
    --root-dir="$LANE/kubelet" --cert-dir="$LANE/kubelet/pki" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1

  cat > "$LANE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $LANE/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0}
metricsBindAddress: 127.0.0.1:$(free_port)
healthzBindAddress: 127.0.0.1:$(free_port)
EOF
  start kube-proxy "$assets/kube-proxy" --config="$LANE/kube-proxy.yaml"

  local k=(kubectl --kubeconfig "$LANE/admin.kubeconfig")
  wait_for 90 "node $NODE_NAME Ready" bash -c "${k[*]} get node $NODE_NAME -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
  # A GPU node's shape, simulated: nvidia.com/gpu as an extended resource on the node's capacity (pods run on CPU), the
  # product label GPU feature discovery sets, and the nvidia RuntimeClass (its containerd runtime is runc, above).
  "${k[@]}" patch node "$NODE_NAME" --subresource=status --type=json \
    -p "[{\"op\":\"add\",\"path\":\"/status/capacity/nvidia.com~1gpu\",\"value\":\"$GPUS\"}]" > /dev/null
  "${k[@]}" label node "$NODE_NAME" nvidia.com/gpu.present=true nvidia.com/gpu.product=NVIDIA-A100-SXM4-40GB > /dev/null
  printf 'apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: nvidia}\nhandler: nvidia\n' | "${k[@]}" apply -f - > /dev/null
  wait_for 60 "the node's not-ready taint to go" bash -c "! ${k[*]} get node $NODE_NAME -o jsonpath='{.spec.taints}' | grep -q not-ready"
  wait_for 60 "the kubernetes Service through kube-proxy" curl -sk --max-time 2 "https://${SERVICE_CIDR%.*}.1/readyz"
}

up() {
  LANE=$1
  local owner=${2:-$PPID}
  [ "$(id -u)" = 0 ] || fail "the real-node lane runs kubelet and containerd, which need root"
  need prometheus jq etcd containerd runc ctr iptables ip6tables ip ss curl openssl setsid kubectl docker-registry conntrack
  [ -x /usr/lib/cni/bridge ] || fail "missing CNI plugins in /usr/lib/cni (Debian: containernetworking-plugins; run make deps)"
  local assets
  assets=$(bash "$REPO/tests/envtest-assets.sh" --node) || fail "no Kubernetes binaries: tests/envtest-assets.sh --node said why, above"
  reap
  for other in /tmp/gru-e2e-*; do
    [ "$other" != "$LANE" ] && [ -f "$other/owner.pid" ] || continue
    fail "another lane is running on this machine: $other (owner pid $(cat "$other/owner.pid")); one node name and address per machine"
  done
  mkdir -p "$LANE/logs" "$LANE/pids"
  echo "$owner" > "$LANE/owner.pid"
  local t0; t0=$(date +%s)
  host_snapshot
  certificates
  control_plane "$assets"
  log "control plane ready in $(( $(date +%s) - t0 ))s"
  registry
  prometheus
  local t1; t1=$(date +%s)
  images
  log "images built and pushed in $(( $(date +%s) - t1 ))s"
  local t2; t2=$(date +%s)
  node "$assets"
  log "node $NODE_NAME Ready in $(( $(date +%s) - t2 ))s (lane up in $(( $(date +%s) - t0 ))s)"
  cat > "$LANE/lane.env" <<EOF
KUBECONFIG=$LANE/admin.kubeconfig
GRU_E2E_API_SERVER=https://$NODE_IP:$API_PORT
GRU_E2E_NODE_NAME=$NODE_NAME
GRU_E2E_NODE_IP=$NODE_IP
GRU_E2E_REGISTRY=$REGISTRY
GRU_E2E_IMAGE_PREFIX=$REGISTRY/gru
GRU_E2E_IMAGE_TAG=$IMAGE_TAG
GRU_E2E_PROMETHEUS=http://$NODE_IP:$PROMETHEUS_PORT
GRU_E2E_KUBELET_PORT=$KUBELET_PORT
GRU_E2E_AUDIT_LOG=$LANE/audit.log
GRU_E2E_CONTAINERD_ADDRESS=$LANE/containerd/containerd.sock
GRU_E2E_LOGS=$LANE/logs
GRU_E2E_SETUP_SECONDS=$(( $(date +%s) - t0 ))
EOF
}

stop_pid() {  # stop_pid FILE: SIGTERM, then SIGKILL after 10 s
  local pid; pid=$(cat "$1" 2> /dev/null) || return 0
  kill -0 "$pid" 2> /dev/null || return 0
  kill -TERM "$pid" 2> /dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2> /dev/null || return 0; sleep 0.5; done
  kill -KILL "$pid" 2> /dev/null || true
}

down() {
  LANE=$1
  [ -d "$LANE" ] || return 0
  log "tearing down $LANE"
  stop_pid "$LANE/pids/kubelet"
  # Every container runc still runs for this lane (kubelet is gone, nothing restarts them), then their shims.
  if [ -d "$LANE/runc" ]; then
    for root in "$LANE"/runc "$LANE"/runc/*/; do
      for id in $(runc --root "$root" list -q 2> /dev/null); do runc --root "$root" delete --force "$id" > /dev/null 2>&1 || true; done
    done
  fi
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $LANE/containerd/containerd.sock" || true); do kill -KILL "$pid" 2> /dev/null || true; done
  for name in pod-discovery prometheus kube-proxy containerd kube-scheduler kube-controller-manager kube-apiserver registry etcd; do stop_pid "$LANE/pids/$name"; done
  # Mounts under the lane (overlay rootfs, shm, volumes), deepest first.
  grep -F " $LANE/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2> /dev/null || true; done
  # Network namespaces the lane's pods had (containerd puts them in /var/run/netns), then the bridge.
  if [ -f "$LANE/netns.before" ]; then
    for ns in $(ls /var/run/netns 2> /dev/null | sort | comm -13 "$LANE/netns.before" - ); do
      ip netns delete "$ns" 2> /dev/null || { umount -l "/var/run/netns/$ns" 2> /dev/null; rm -f "/var/run/netns/$ns"; }
    done
  fi
  ip link delete "$BRIDGE" 2> /dev/null || true
  # The kernel removes a deleted namespace's veth pairs asynchronously: wait for the host ends the lane made to go
  # (seen: still listed right after the deletes), then delete any that stay.
  if [ -f "$LANE/host-state.before" ]; then
    local left deadline=$(( $(date +%s) + 30 ))
    while :; do
      left=$(ip -o link show type veth 2> /dev/null | awk '{print $2}' | sed 's/@.*//; s/:$//' | while read -r l; do
        grep -qE "^link $l:?$" "$LANE/host-state.before" || echo "$l"; done)
      [ -z "$left" ] && break
      if [ "$(date +%s)" -ge "$deadline" ]; then
        for l in $left; do ip link delete "$l" 2> /dev/null || true; done
        break
      fi
      sleep 0.5
    done
  fi
  # iptables: drop every KUBE-* and CNI-* chain, the rules that jump to them and the lane's guard; nothing else moves.
  for cmd in iptables ip6tables; do
    command -v "$cmd-save" > /dev/null 2>&1 || continue
    local saved; saved=$("$cmd-save" 2> /dev/null) || continue
    if grep -qE "KUBE-|CNI-|$GUARD_CHAIN" <<< "$saved"; then
      grep -vE "KUBE-|CNI-|$GUARD_CHAIN" <<< "$saved" | "$cmd-restore" || log "warning: $cmd-restore failed; check $cmd-save for KUBE-/CNI- chains"
    fi
  done
  if [ -f "$LANE/sysctl.saved" ]; then
    while IFS='=' read -r key value; do echo "$value" > "/proc/sys/${key//.//}" 2> /dev/null || true; done < "$LANE/sysctl.saved"
  fi
  [ -f "$LANE/lo-address.added" ] && ip addr delete "$(cat "$LANE/lo-address.added")" dev lo 2> /dev/null || true
  # The lane's cgroups, deepest first (pods' cgroups empty once their processes are gone).
  for c in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2> /dev/null || true
  done
  if [ -f "$LANE/host-paths.created" ]; then
    while read -r p; do [ -n "$p" ] && rm -rf "$p"; done < "$LANE/host-paths.created"
  fi
  rm -rf "/dev/shm/$(basename "$LANE")-etcd"
  local changed=""
  if [ -f "$LANE/host-state.before" ]; then
    changed=$(diff <(sort "$LANE/host-state.before") <(host_state | sort) | grep '^[<>]' || true)
  fi
  rm -rf "$LANE"
  [ -z "$changed" ] || fail "the machine is not as the lane found it ('<' before, '>' now):
$changed"
  log "the machine is as the lane found it"
}

reap() {
  for dir in /tmp/gru-e2e-*; do
    [ -f "$dir/owner.pid" ] || continue
    kill -0 "$(cat "$dir/owner.pid")" 2> /dev/null && continue
    log "reaping abandoned lane $dir (owner $(cat "$dir/owner.pid") is gone)"
    ( down "$dir" ) || true
  done
}

case "${1:-}" in
  up) [ -n "${2:-}" ] || fail "usage: lane.sh up DIR [OWNER_PID]"
    # A failed start leaves nothing behind (GRU_E2E_KEEP=1 keeps it for a look, until lane.sh down or reap).
    trap 'rc=$?; [ $rc -eq 0 ] || [ -n "${GRU_E2E_KEEP:-}" ] || { log "up failed; tearing down"; ( down "$LANE" ) || true; }' EXIT
    up "$2" "${3:-}";;
  down) [ -n "${2:-}" ] || fail "usage: lane.sh down DIR"; down "$2";;
  reap) reap;;
  *) echo "usage: lane.sh up DIR [OWNER_PID] | down DIR | reap" >&2; exit 2;;
esac
