# Sourced by the fixture makers (make-tiny-gemma.sh, make-gemma270m-reference.sh; run by hand, not in CI): torch (the
# PyPI wheel), transformers and gguf in their own venv, $GEMMA_CACHE/venv-hf, because torch is large. One package list
# for both, so running one after the other reinstalls nothing. Sets $venv.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
venv="$GEMMA_CACHE/venv-hf"
want="torch==2.15.0 transformers==5.23.0 accelerate safetensors gguf==0.19.0 numpy tokenizers"
if [ ! -f "$venv/.installed" ] || [ "$(cat "$venv/.installed")" != "$want" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" > "$venv/.installed"
fi
