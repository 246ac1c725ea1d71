#!/usr/bin/env bash
# Makes the tiny Gemma 1/2/3 fixtures with Hugging Face transformers (run by hand, not in CI; see make-tiny-gemma.py).
# torch + transformers go into their own venv, $GEMMA_CACHE/venv-hf, because torch is large.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/venv-hf.sh"
exec "$venv/bin/python" "$here/make-tiny-gemma.py" "$@"
