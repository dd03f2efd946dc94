#!/usr/bin/env bash
# Rebuilds the committed model fixture from ../shared (the developers' reference data): stories15M as Q8_0 GGUF
# with its Llama 2 tokenizer, made by Herd's own converter. Embedded in the jar for `herd demo` and used by tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${HERD_SHARED:-$root/../shared}"
"$root/herd" convert --model "$shared/models/stories15M.bin" --tokenizer "$shared/models/llama2-tokenizer.model" \
  --weights-float-type q80 --output "$root/src/main/resources/models/stories15M-q8_0.gguf"
