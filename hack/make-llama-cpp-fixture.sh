#!/usr/bin/env bash
# Writes llama.cpp's greedy continuations and first-step top-5 for the Gemma 3 270M prompts of
# Gemma270mVsLlamaCppTest into the committed fixture, so that test still runs where llama.cpp's libraries are absent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
out="$here/../runtime-image/bench/src/test/resources/fixtures/gemma3-270m-llama-cpp.json"
cd "$here/.."
./mvnw -B -ntp -o -q -pl runtime-image/bench -am test -Dtest=Gemma270mVsLlamaCppTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dgemma.writeLlamaCppFixture="$(realpath -m "$out")" -DargLine="@{argLine} -Dgemma.writeLlamaCppFixture=$(realpath -m "$out")" || true
ls -la "$out"
