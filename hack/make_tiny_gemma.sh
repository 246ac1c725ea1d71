#!/usr/bin/env bash
# Makes the tiny Gemma 1/2/3 fixtures with Hugging Face transformers (run by hand, not in CI; see make_tiny_gemma.py).
# torch + transformers go into their own venv, $GEMMA_CACHE/venv-hf, because torch is large.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
venv="$GEMMA_CACHE/venv-hf"
want="torch==2.15.0 transformers==5.23.0 safetensors gguf==0.19.0 numpy tokenizers"
if [ ! -f "$venv/.installed" ] || [ "$(cat "$venv/.installed")" != "$want" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" > "$venv/.installed"
fi
exec "$venv/bin/python" "$here/make_tiny_gemma.py" "$@"
