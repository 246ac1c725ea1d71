#!/usr/bin/env bash
# Lua 5.1 (the dialect Argo CD's health checks run in, gopher-lua) to test samples/argocd's health check.
# Debian's package; without root or apt the Lua test skips with a stated reason.
set -euo pipefail
if command -v lua5.1 >/dev/null; then lua5.1 -v; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get install -y -q --no-install-recommends lua5.1 >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends lua5.1 >/dev/null; }) \
    || echo "    WARNING: apt-get could not install lua5.1 (the health-check test will skip)"
else
  echo "    not root or no apt-get: lua5.1 not installed (the health-check test will skip)"
fi
command -v lua5.1 >/dev/null && lua5.1 -v || true
