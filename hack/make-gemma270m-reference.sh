#!/usr/bin/env bash
# Makes the float32/float64 Hugging Face transformers reference for the real Gemma 3 270M GGUF (run by hand, not in
# CI; see make-gemma270m-reference.py). torch (the PyPI wheel) + transformers + gguf go into their own venv,
# $GEMMA_CACHE/venv-hf, shared with make-tiny-gemma.sh, because torch is large. Needs $GEMMA_270M_GGUF (hack/setup.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/venv-hf.sh"
[ -f "$GEMMA_270M_GGUF" ] || { echo "GEMMA_270M_GGUF ($GEMMA_270M_GGUF) is missing: run hack/setup.sh" >&2; exit 1; }
exec "$venv/bin/python" "$here/make-gemma270m-reference.py" "$GEMMA_270M_GGUF"
