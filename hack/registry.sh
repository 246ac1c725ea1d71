#!/usr/bin/env bash
# The local OCI registry every image reaches the node through, as a user's cluster pulls from theirs:
# distribution v3 (built from its Go module by hack/build-image-tools.sh, cached in $GEMMA_BIN), plain HTTP on
# localhost:5000, blobs kept under $GEMMA_CACHE/registry-data so pushed images survive a restart (a second
# hack/images.sh pushes only what changed).
# Usage: hack/registry.sh start|stop|status
#   start   starts it in the background (builds the binary first if missing); does nothing if it already answers
#   stop    stops the registry this script started (the pid in $GEMMA_CACHE/registry/registry.pid)
#   status  prints whether it answers; exit status 0 when it does
# Env: GEMMA_REGISTRY_ADDR (default localhost:5000), GEMMA_REGISTRY_DATA (default $GEMMA_CACHE/registry-data).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
addr="${GEMMA_REGISTRY_ADDR:-localhost:5000}"
data="${GEMMA_REGISTRY_DATA:-$GEMMA_CACHE/registry-data}"
run="$GEMMA_CACHE/registry"
pidfile="$run/registry.pid"
logfile="$run/registry.log"

answers() { curl -fsS -o /dev/null --max-time 2 "http://$addr/v2/" 2>/dev/null; }
our_pid() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"; }

start() {
  if answers; then echo "registry: already answering at http://$addr"; return; fi
  if [ ! -x "$GEMMA_BIN/registry" ]; then "$here/build-image-tools.sh" registry; fi
  mkdir -p "$run" "$data"
  REGISTRY_HTTP_ADDR="$addr" REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$data" \
    nohup "$GEMMA_BIN/registry" serve "$here/imagetools/registry/config.yml" >"$logfile" 2>&1 </dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 50); do
    if answers; then echo "registry: started at http://$addr (pid $(cat "$pidfile"), data $data, log $logfile)"; return; fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
    sleep 0.2
  done
  echo "registry: did not start at http://$addr; last lines of $logfile:" >&2
  tail -5 "$logfile" >&2
  exit 1
}

stop() {
  local pid
  if pid="$(our_pid)"; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
    echo "registry: stopped (pid $pid)"
  elif answers; then
    echo "registry: something else answers at http://$addr (not started by this script): left alone"
  else
    rm -f "$pidfile"
    echo "registry: not running"
  fi
}

status() {
  local pid
  if ! answers; then echo "registry: not answering at http://$addr"; return 1; fi
  if pid="$(our_pid)"; then
    echo "registry: answering at http://$addr (pid $pid, data $data)"
  else
    echo "registry: answering at http://$addr (not started by this script)"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
