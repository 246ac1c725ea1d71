#!/usr/bin/env bash
# Runs the images hack/images.sh pushed, straight from the local registry, with runc (as root) the way a restricted
# pod runs them: an arbitrary non-root UID in group 0 (GEMMA_CHECK_UID, default 1000770000, from an OpenShift
# namespace's range), no capabilities, no new privileges, a read-only root file system and an emptyDir-like tmpfs
# on /tmp. What it shows:
#   modelcar  the init container's test ([ -d /models ] && [ "$(ls -A /models)" ]) passes, and the sidecar's
#             `ln -sf /proc/$$/root/models /mnt/models && sleep infinity` runs
#   runtime   the server, in the sidecar's PID namespace with the shared /mnt (shareProcessNamespace), started with
#             the options the operator writes, loads the GGUF through /mnt/models, answers /health/ready and one
#             /v1/completions; then SIGTERM, and it exits
#   operator  starts, and without a cluster exits non-zero on its own (its last log lines are shown)
#   cuda      (only when asked) the CUDA runtime image $GEMMA_CUDA_IMAGE (default $repo/gemma-runtime-cuda:0.1.0):
#             its Java starts, and without a GPU `--backend=cuda` exits non-zero with a one-line reason
# Needs runc, crane ($GEMMA_BIN) and the registry; leaves nothing running. Exit status 0 when every check passed.
# Usage: hack/check-images.sh [modelcar|runtime|operator|cuda]...   (default: the first three)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
reg="${GEMMA_REGISTRY_ADDR:-localhost:5000}"
repo="$reg/gemma-serving"
uid="${GEMMA_CHECK_UID:-1000770000}"
port="${GEMMA_CHECK_PORT:-18080}"
work="$(mktemp -d /tmp/gemma-check-images.XXXXXX)"
gguf="$(basename "$GEMMA_270M_GGUF")"
started=()
failed=0

log() { echo "==> check-images: $*"; }
fail() { echo "FAIL: $*" >&2; failed=1; }
crane() { "$GEMMA_BIN/crane" --insecure "$@"; }
cleanup() {
  local c
  for c in "${started[@]}"; do runc delete --force "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
command -v runc >/dev/null || { echo "runc is not installed (apt-get install runc)" >&2; exit 1; }
"$here/registry.sh" status >/dev/null || { echo "the registry is not running (hack/registry.sh start; hack/images.sh)" >&2; exit 1; }

# bundle NAME IMAGE ARGS_JSON [EXTRA_JSON]: a runc bundle of IMAGE's file system and config, with the restricted
# settings above; EXTRA_JSON may give "mounts" (added) and "pidns" (a PID namespace to join).
bundle() {
  local name="$1" image="$2" b="$work/$1" extra="${4:-}"
  [ -n "$extra" ] || extra='{}'
  mkdir -p "$b/rootfs"
  crane export "$image" - | tar --warning=no-unknown-keyword -x -C "$b/rootfs"
  crane config "$image" > "$b/image.json"
  (cd "$b" && runc spec)
  python3 - "$b" "$uid" "$3" "$extra" <<'EOF'
import json, sys
b, uid, args, extra = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
image = json.load(open(f"{b}/image.json")).get("config", {})
spec = json.load(open(f"{b}/config.json"))
p = spec["process"]
p["terminal"] = False
p["user"] = {"uid": uid, "gid": 0}
p["args"] = (image.get("Entrypoint") or []) + args if extra.get("entrypoint", True) else args
p["env"] = (image.get("Env") or []) + ["HOME=/tmp"]
p["cwd"] = image.get("WorkingDir") or "/"
p["capabilities"] = {k: [] for k in ("bounding", "effective", "permitted", "ambient")}
p["noNewPrivileges"] = True
spec["root"] = {"path": "rootfs", "readonly": True}
spec["hostname"] = "check"
spec["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "mode=1777", "size=512m"]})
spec["mounts"] += extra.get("mounts", [])
# the host's network (the check curls the server on localhost); the sidecar's PID namespace when given
ns = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
if "pidns" in extra:
    ns = [n for n in ns if n["type"] != "pid"] + [{"type": "pid", "path": extra["pidns"]}]
spec["linux"]["namespaces"] = ns
json.dump(spec, open(f"{b}/config.json", "w"), indent=1)
EOF
}

check_modelcar() {
  local image="$repo/modelcar-gemma-3-270m:q4_k_m"
  log "modelcar $image as UID $uid:0, read-only root"
  bundle modelcar-init "$image" '["sh", "-c", "[ -d /models ] && [ \"$(ls -A /models)\" ] && ls -ln /models"]' '{"entrypoint": false}'
  if (cd "$work/modelcar-init" && runc run "check-modelcar-init-$$"); then
    echo "    init test passed"
  else
    fail "the modelcar's init test ([ -d /models ] && [ \"\$(ls -A /models)\" ]) failed"
  fi
}

# The sidecar and the runtime: one shared /mnt, the runtime in the sidecar's PID namespace.
check_runtime() {
  local image="$repo/gemma-runtime:0.1.0" mc="check-modelcar-$$" rt="check-runtime-$$" pid t0 i code body
  mkdir -p "$work/mnt" && chmod 1777 "$work/mnt"
  local mnt="{\"destination\": \"/mnt\", \"type\": \"bind\", \"source\": \"$work/mnt\", \"options\": [\"rbind\", \"rw\"]}"
  log "modelcar sidecar: ln -sf /proc/\$\$/root/models /mnt/models && sleep infinity"
  bundle modelcar "$repo/modelcar-gemma-3-270m:q4_k_m" '["sh", "-c", "ln -sf /proc/$$/root/models /mnt/models && sleep infinity"]' \
    "{\"entrypoint\": false, \"mounts\": [$mnt]}"
  (cd "$work/modelcar" && runc run -d "$mc" >/dev/null) && started+=("$mc")
  pid="$(runc state "$mc" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')"
  for i in $(seq 1 50); do [ -L "$work/mnt/models" ] && break; sleep 0.1; done
  echo "    /mnt/models -> $(readlink "$work/mnt/models")"
  log "runtime $image as UID $uid:0, read-only root, in the sidecar's PID namespace, --model=/mnt/models/$gguf"
  bundle runtime "$image" "[\"--model=/mnt/models/$gguf\", \"--served-model-name=gemma-3-270m\", \"--port=$port\",
    \"--max-context-length=1024\", \"--max-concurrent-sequences=2\", \"--backend=cpu\", \"--tensor-parallel-size=1\",
    \"--drain-timeout-seconds=30\"]" "{\"mounts\": [$mnt], \"pidns\": \"/proc/$pid/ns/pid\"}"
  (cd "$work/runtime" && runc run -d "$rt" >"$work/runtime.log" 2>&1) && started+=("$rt")
  t0=$(date +%s)
  code=000
  for i in $(seq 1 600); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://localhost:$port/health/ready" || true)"
    [ "$code" = 200 ] && break
    [ "$(runc state "$rt" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)" = running ] || break
    sleep 0.5
  done
  if [ "$code" != 200 ]; then
    fail "the runtime did not get ready (last /health/ready: $code); its output:"; tail -20 "$work/runtime.log" >&2; return
  fi
  echo "    /health/ready 200 after $(( $(date +%s) - t0 ))s"
  body="$(curl -sS --max-time 60 "http://localhost:$port/v1/completions" -H 'Content-Type: application/json' \
    -d '{"model": "gemma-3-270m", "prompt": "The capital of France is", "max_tokens": 8, "temperature": 0}')"
  echo "    /v1/completions: $body"
  grep -q '"text"' <<<"$body" || fail "no completion text in the answer"
  log "SIGTERM to the runtime"
  runc kill "$rt" TERM
  for i in $(seq 1 100); do
    [ "$(runc state "$rt" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)" = running ] || break
    sleep 0.2
  done
  if [ "$i" = 100 ]; then fail "the runtime still runs 20 s after SIGTERM"; else echo "    stopped after SIGTERM"; fi
  echo "    the runtime's last lines:"; tail -4 "$work/runtime.log" | sed 's/^/      /'
}

check_operator() {
  local image="$repo/gemma-operator:0.1.0" rc=0
  log "operator $image as UID $uid:0, read-only root, no cluster"
  bundle operator "$image" '[]'
  (cd "$work/operator" && timeout 120 runc run "check-operator-$$" >"$work/operator.log" 2>&1) || rc=$?
  if [ $rc = 0 ]; then
    fail "the operator exited 0 without a cluster"
  elif [ $rc = 124 ]; then
    fail "the operator still ran after 120 s without a cluster"
  else
    echo "    exited $rc without a cluster; its first and last lines:"
    head -3 "$work/operator.log" | cut -c1-220 | sed 's/^/      /'
    grep -v '^\s*at \|^\s*\.\.\. ' "$work/operator.log" | tail -4 | cut -c1-220 | sed 's/^/      /'
  fi
}

check_cuda() {
  local image="${GEMMA_CUDA_IMAGE:-$repo/gemma-runtime-cuda:0.1.0}" rc=0
  log "CUDA runtime $image as UID $uid:0, read-only root, no GPU: --backend=cuda"
  bundle cuda "$image" "[\"--model=/models/$gguf\", \"--port=$port\", \"--backend=cuda\"]" \
    "{\"mounts\": [{\"destination\": \"/models/$gguf\", \"type\": \"bind\", \"source\": \"$GEMMA_270M_GGUF\", \"options\": [\"rbind\", \"ro\"]}]}"
  (cd "$work/cuda" && timeout 120 runc run "check-cuda-$$" >"$work/cuda.log" 2>&1) || rc=$?
  if [ $rc = 0 ] || [ $rc = 124 ]; then
    fail "--backend=cuda without a GPU: exit status $rc, expected a refusal; its output, without stack frames:"
    grep -v "^\s*at \|^\s*\.\.\. " "$work/cuda.log" | tail -8 | cut -c1-240 >&2
  else
    echo "    exited $rc; its last line: $(grep -v '^\s*$' "$work/cuda.log" | tail -1 | cut -c1-240)"
  fi
}

targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(modelcar runtime operator)
for t in "${targets[@]}"; do
  case "$t" in
    modelcar) check_modelcar ;;
    runtime) check_runtime ;;
    operator) check_operator ;;
    cuda) check_cuda ;;
    *) echo "unknown check '$t' (modelcar|runtime|operator|cuda)" >&2; exit 2 ;;
  esac
done
[ $failed = 0 ] && log "all passed" || { log "some checks failed"; exit 1; }
