#!/usr/bin/env bash
# A real Kubernetes node on this machine, joined to a control plane that kwokctl started (--runtime binary, as
# hack/demo.sh and the tests' LocalCluster do): containerd (Debian's) with runc and the CNI bridge plugin, kubelet and
# kube-proxy (built by hack/build-control-plane.sh node from the control plane's Kubernetes module). Pods bound to it
# really run; KWOK keeps playing the nodes annotated kwok.x-k8s.io/node=fake (GPU nodes, the 1000-model benchmark).
#
# Usage: hack/node.sh up --cluster-dir DIR [--name NODE]   DIR: kwokctl's cluster folder ($KWOK_WORKDIR/clusters/NAME,
#                                                           holding kubeconfig.yaml and pki/ca.{crt,key})
#        hack/node.sh down                                  stops everything, removes its pods, network and state
#        hack/node.sh status                                prints what runs (exit 1 when the node is down)
#
# Needs root (containerd, iptables, mounts). Images are pulled over plain HTTP from the registry $GEMMA_REGISTRY_ADDR
# (hack/registry.sh, default localhost:5000); the pod sandbox image $PAUSE_IMAGE is imported from the tar
# hack/build-control-plane.sh made, never pulled.
# State (configs, sockets, logs, kubelet's pod folders, IPAM) lives in $GEMMA_NODE_STATE and is removed on down; the
# images containerd pulled stay in $GEMMA_CACHE/node/containerd, so a second up pulls nothing.
#
# This sandbox's kernel refuses a negative oom_score_adj to a process without CAP_SYS_RESOURCE: containerd runs with
# restrict_oom_score_adj, else runc dies creating every pod sandbox. cgroups are v1 here: kubelet with cgroupfs and
# failCgroupV1: false. Node credentials: a client certificate for system:node:NODE (group system:nodes) and one for
# system:kube-proxy, signed with the cluster's CA; the kubelet's own API accepts only clients with a certificate from
# that CA (no anonymous access).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"

state="$GEMMA_NODE_STATE"
images="$GEMMA_CACHE/node/containerd"
sock="$state/run/containerd.sock"
pod_cidr="${GEMMA_NODE_POD_CIDR:-10.88.0.0/16}"
bridge=gemma0
# The local registry (hack/registry.sh) every image but the sandbox is pulled from.
registry="${GEMMA_REGISTRY_ADDR:-localhost:5000}"

log() { echo "    [node] $*"; }
die() { echo "node: $*" >&2; exit 1; }
ctr_() { ctr --address "$sock" -n k8s.io "$@"; }
alive() { [ -f "$state/pids/$1.pid" ] && kill -0 "$(cat "$state/pids/$1.pid")" 2>/dev/null; }

# Starts $2... in the background as component $1, logging to $state/logs/$1.log.
start() {
  local name=$1; shift
  nohup "$@" > "$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state/pids/$name.pid"
}

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local limit=$1; shift
  local end=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 1
  done
}

# A client certificate signed with the cluster's CA, and a kubeconfig using it: $1 file name, $2 CN, $3 O (or "").
credentials() {
  local name=$1 cn=$2 org=$3 subj="/CN=$2"
  [ -n "$org" ] && subj="/O=$org$subj"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$state/pki/$name.key" -subj "$subj" -out "$state/pki/$name.csr" \
    2>/dev/null
  openssl x509 -req -in "$state/pki/$name.csr" -CA "$ca_crt" -CAkey "$ca_key" -CAcreateserial -days 2 \
    -extfile <(printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n') \
    -out "$state/pki/$name.crt" 2>/dev/null
  cat > "$state/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$server", certificate-authority: "$ca_crt"}}]
users: [{name: $cn, user: {client-certificate: "$state/pki/$name.crt", client-key: "$state/pki/$name.key"}}]
contexts: [{name: local, context: {cluster: local, user: $cn}}]
current-context: local
EOF
}

write_containerd_config() {
  mkdir -p "$state/containerd/certs.d/$registry"
  cat > "$state/containerd/config.toml" <<EOF
version = 2
root = "$images"
state = "$state/containerd/state"
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  # pod network namespaces under the state folder: removed with it
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$state/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$state/containerd/certs.d"
EOF
  # The local registry speaks plain HTTP.
  cat > "$state/containerd/certs.d/$registry/hosts.toml" <<EOF
server = "http://$registry"
[host."http://$registry"]
  capabilities = ["pull", "resolve"]
EOF
}

write_cni_config() {
  mkdir -p "$state/cni/net.d" "$state/cni/ipam"
  cat > "$state/cni/net.d/10-gemma.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "gemma-node",
  "plugins": [
    {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$state/cni/ipam", "ranges": [[{"subnet": "$pod_cidr"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

write_kubelet_config() {
  cat > "$state/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "$ca_crt"}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
# Containers' logs with the rest of the node's state (removed on down), not in /var/log/pods.
podLogsDir: $state/pod-logs
serializeImagePulls: false
# Pod status (and the operator's view of it) as soon as the kubelet sees a change.
nodeStatusUpdateFrequency: 10s
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
evictionHard: {memory.available: 200Mi, nodefs.available: 5%, imagefs.available: 5%}
EOF
}

write_kube_proxy_config() {
  cat > "$state/kube-proxy/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$state/kube-proxy.kubeconfig"}
hostnameOverride: $node
mode: iptables
clusterCIDR: $pod_cidr
detectLocalMode: ClusterCIDR
# No conntrack sysctls: the sandbox may refuse them, and the defaults are enough for one node.
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

up() {
  local cluster_dir="" node="gemma-node-0"
  while [ $# -gt 0 ]; do
    case "$1" in
      --cluster-dir) cluster_dir="$2"; shift 2 ;;
      --name) node="$2"; shift 2 ;;
      *) die "unknown option '$1' (usage: hack/node.sh up --cluster-dir DIR [--name NODE])" ;;
    esac
  done
  [ -n "$cluster_dir" ] || die "--cluster-dir is required (kwokctl's folder \$KWOK_WORKDIR/clusters/NAME)"
  [ "$(id -u)" = 0 ] || die "a real node needs root (containerd, iptables, mounts)"
  local b
  for b in containerd ctr runc iptables openssl; do command -v $b >/dev/null || die "$b missing: run hack/setup.sh node"; done
  [ -x /usr/lib/cni/bridge ] || die "/usr/lib/cni/bridge missing: run hack/setup.sh node"
  for b in kubelet kube-proxy kubectl; do
    [ -x "$GEMMA_BIN/$b" ] || die "$GEMMA_BIN/$b missing: run hack/build-control-plane.sh node"
  done
  local pause_tar="$GEMMA_CACHE/node/pause-${PAUSE_IMAGE##*:}.oci.tar"
  [ -s "$pause_tar" ] || die "$pause_tar missing: run hack/build-control-plane.sh node"
  ca_crt="$cluster_dir/pki/ca.crt" ca_key="$cluster_dir/pki/ca.key"
  local admin="$cluster_dir/kubeconfig.yaml"
  [ -f "$ca_crt" ] && [ -f "$ca_key" ] && [ -f "$admin" ] || die "$cluster_dir has no kubeconfig.yaml and pki/ca.{crt,key}"
  server="$(kubectl --kubeconfig "$admin" config view --raw -o jsonpath='{.clusters[0].cluster.server}')"
  if alive containerd || alive kubelet; then die "a node is already up ($state): hack/node.sh down first"; fi
  rm -rf "$state"
  mkdir -p "$state"/{pids,logs,pki,run,kubelet,kube-proxy,containerd} "$images"
  echo "$node" > "$state/name"
  echo "$admin" > "$state/admin-kubeconfig"

  # The CNI bridge plugin and kube-proxy need forwarding and bridged traffic seen by iptables.
  modprobe br_netfilter 2>/dev/null || true
  echo 1 > /proc/sys/net/ipv4/ip_forward
  [ -f /proc/sys/net/bridge/bridge-nf-call-iptables ] && echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables
  # kube-proxy's ClusterIPs from the host's own processes (tests, demo) through the loopback.
  echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet

  write_containerd_config
  write_cni_config
  log "containerd $(containerd --version | awk '{print $3}') (images in $images)"
  start containerd containerd --config "$state/containerd/config.toml"
  wait_for 30 ctr --address "$sock" version || { tail -20 "$state/logs/containerd.log"; die "containerd did not start"; }
  # Containers a killed node left behind would be restarted by nobody: remove them.
  remove_containers
  ctr_ images import "$pause_tar" >/dev/null
  log "sandbox image $PAUSE_IMAGE imported"

  credentials kubelet "system:node:$node" system:nodes
  credentials kube-proxy system:kube-proxy ""
  write_kubelet_config
  write_kube_proxy_config
  local ip
  ip="$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')"
  log "kubelet $node ($ip), joining $server"
  start kubelet "$GEMMA_BIN/kubelet" --config "$state/kubelet/config.yaml" --kubeconfig "$state/kubelet.kubeconfig" \
    --root-dir "$state/kubelet" --hostname-override "$node" ${ip:+--node-ip "$ip"} \
    --node-labels "gemma.io/node=real" --v=1
  start kube-proxy "$GEMMA_BIN/kube-proxy" --config "$state/kube-proxy/config.yaml" --v=1
  if ! wait_for 120 kubectl --kubeconfig "$admin" wait --for=condition=Ready "node/$node" --timeout=5s; then
    tail -30 "$state/logs/kubelet.log"
    die "node $node did not become Ready (logs: $state/logs)"
  fi
  log "node $node Ready (logs: $state/logs)"
}

# Kills and removes every container of the k8s.io namespace (pods and sandboxes), and their shims.
remove_containers() {
  local id shim
  for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
  for id in $(ctr_ containers ls -q 2>/dev/null); do
    ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true
    ctr_ containers delete "$id" >/dev/null 2>&1 || true
  done
  for shim in "$state"/containerd/state/io.containerd.runtime.v2.task/k8s.io/*/shim.pid; do
    [ -f "$shim" ] && kill "$(cat "$shim")" 2>/dev/null || true
  done
}

stop_pid() {
  local name=$1 pid
  [ -f "$state/pids/$name.pid" ] || return 0
  pid="$(cat "$state/pids/$name.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait_for 20 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$state/pids/$name.pid"
}

down() {
  [ -d "$state" ] || { log "no node state in $state: nothing to stop"; return 0; }
  local node; node="$(cat "$state/name" 2>/dev/null || echo gemma-node-0)"
  stop_pid kubelet
  stop_pid kube-proxy
  if alive containerd; then remove_containers; fi
  stop_pid containerd
  # Pod network namespaces the CNI plugin never got to tear down, the bridge, kube-proxy's iptables rules.
  local ns
  for ns in /run/netns/cni-* "$state"/containerd/state/io.containerd.grpc.v1.cri/netns/cni-*; do
    if [ -e "$ns" ]; then umount "$ns" 2>/dev/null || true; rm -f "$ns"; fi
  done
  ip link del "$bridge" 2>/dev/null || true
  [ -x "$GEMMA_BIN/kube-proxy" ] && "$GEMMA_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  cleanup_iptables
  # Volumes the kubelet mounted (projected tokens, tmpfs) and rootfs mounts, innermost first.
  awk -v s="$state" '$2 ~ "^"s {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  # The cgroups the kubelet made for its pods (cgroup v1: one tree per controller), deepest first.
  local c
  for c in /sys/fs/cgroup/*/kubepods; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  rm -rf "$state"
  log "node $node down"
}

# What kube-proxy --cleanup leaves: the kubelet's own chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT) in
# iptables and ip6tables, and the bridge plugin's masquerade chains (CNI-<hash>) of pods whose network was never torn
# down. Rules jumping to them go first, then the chains.
cleanup_iptables() {
  local cmd table rule chain
  for cmd in iptables ip6tables; do
    command -v $cmd >/dev/null || continue
    for table in filter nat mangle; do
      { $cmd -t $table -S 2>/dev/null | grep -E -- '^-A .* -j (KUBE-|CNI-)' || true; } | sed 's/^-A/-D/' \
        | while read -r rule; do eval $cmd -t $table "$rule" 2>/dev/null || true; done
      for chain in $($cmd -t $table -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\|CNI-[^ ]*\)$/\1/p'); do
        $cmd -t $table -F "$chain" 2>/dev/null || true
      done
      for chain in $($cmd -t $table -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\|CNI-[^ ]*\)$/\1/p'); do
        $cmd -t $table -X "$chain" 2>/dev/null || true
      done
    done
  done
}

status() {
  local c up=0
  for c in containerd kubelet kube-proxy; do
    if alive "$c"; then echo "$c: running (pid $(cat "$state/pids/$c.pid"))"; up=1; else echo "$c: not running"; fi
  done
  [ $up = 1 ]
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: hack/node.sh up --cluster-dir DIR [--name NODE] | down | status" >&2; exit 2 ;;
esac
