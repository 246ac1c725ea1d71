#!/usr/bin/env bash
# Fuzzes the server with schemathesis against its own OpenAPI document (/openapi.yaml): a bounded number of
# generated requests per operation; passes when no request got a 5xx and the server still answers afterwards.
# Prints schemathesis' count of generated test cases, then the HTTP statuses of every request it sent (from its HAR).
# Usage: hack/fuzz-server.sh [max-examples-per-operation, default 30]   (needs the server built: mvn package)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
cd "$here/../runtime-image/server"
n="${1:-30}"
port=18089
log="target/fuzz-server.log"
# max_tokens is capped at 4 and n at 8 (the queue's size) for this run so each generated request stays cheap
java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
  -Dgemma.server.max-tokens-cap=4 -jar target/quarkus-app/quarkus-run.jar --model "$GEMMA_270M_GGUF" \
  --port $port --host 127.0.0.1 --max-context-length 512 --max-concurrent-sequences 4 \
  --max-waiting-requests 8 --threads 2 > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do
  curl -sf "http://127.0.0.1:$port/health/ready" > /dev/null && break
  kill -0 $pid 2>/dev/null || { echo "server exited: $(tail -5 "$log")"; exit 1; }
  sleep 1
done
rc=0
"$GEMMA_VENV/bin/schemathesis" run "http://127.0.0.1:$port/openapi.yaml" --checks not_a_server_error \
  --request-timeout 120 --max-examples "$n" --seed 1 --report junit,har --report-junit-path target/fuzz-junit.xml \
  --report-har-path target/fuzz.har || rc=$?
"$GEMMA_VENV/bin/python" - target/fuzz.har <<'EOF'
import collections, json, sys
entries = json.load(open(sys.argv[1]))["log"]["entries"]
by = collections.Counter((e["request"]["method"] + " /" + e["request"]["url"].split("?")[0].split("/", 3)[-1],
                          e["response"]["status"]) for e in entries)
print(f"{len(entries)} requests sent; by operation and status:")
for (op, status), count in sorted(by.items()):
    print(f"  {op}  {status}: {count}")
EOF
curl -sf "http://127.0.0.1:$port/v1/models" > /dev/null && echo "server still answers after fuzzing"
exit $rc
