#!/usr/bin/env bash
# Herd's next-token distributions against llama.cpp's (node-llama-cpp, from npm) on the same GGUF files, per weight
# type: stories15M (a real model, from ../shared/models) in the legacy types and Q6_K, a random model with the
# Llama-3.2-1B layer shape (2 layers, 32000 tokens, tied embeddings) in the K-quant and IQ4 types, and small random
# models of the other architectures (Qwen2, Qwen3 MoE, Mixtral, Qwen2 MoE, Gemma). Files are made here with llama.cpp's
# own quantizer (../shared/tools/llamacpp_quantize.py); `herd convert` writes the same bytes for q4_k_m and q6_k
# (KQuantConvertTest).
# Prints a table (mean KL divergence of Herd from llama.cpp's distribution, top-1 agreement) and fails when a file's
# KL divergence exceeds its bound: far above what the two engines' different rounding gives (0.0002-0.0014 measured,
# docs/formats.md), far below a wrong kernel (stories15M Q4_0 against Q8_0: 0.1).
# usage: [STORIES_ARCHS=1] tools/agreement/run.sh [WORK_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
shared="$root/../shared"
[[ -f "$shared/models/stories15M.bin" ]] || { echo "agreement: needs ../shared/models/stories15M.bin beside the project" >&2; exit 1; }
cd "$root"
[[ -f target/herd.jar ]] || ./mvnw -q -B -DskipTests package
(cd "$here" && npm install --no-audit --no-fund --loglevel=error --omit=optional --ignore-scripts)
export LLAMACPP_BENCH_DIR="$here" # llamacpp_quantize.py loads libllama from this install
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
text=src/test/resources/text/tinystory.txt
# no warm-up at load (-Dherd.warmup=false): each of the ~45 runs is short, and the warm-up changes no result
herd() { HERD_JAVA_OPTS="${HERD_JAVA_OPTS:-} -Dherd.warmup=false" ./herd "$@" 2>&1 | grep -v '^WARNING: Using incubator modules' || true; }
quantize() { python3 "$shared/tools/llamacpp_quantize.py" "$1" "$2" "$3" >"$2.log" 2>&1 || { cat "$2.log" >&2; exit 1; }; }

# tokens NAME FILE [TEXT]: the text's token windows as FILE's model cuts them (its tokenizer and context), in $work/NAME.lp;
# every file made from FILE has the same, so llama.cpp scores those
tokens() { herd perplexity --model "$2" --file "${3:-$text}" --nthreads 2 --kl-divergence-base "$work/$1.lp" >/dev/null; }

# compare NAME FILE MAX_KL TOKENS: one row of the table
compare() {
  local name="$1" model="$2" max="$3"
  node "$here/llama-logprobs.mjs" "$model" "$work/$4.lp" "$model.llama.lp" 2
  local out; out="$(herd perplexity --model "$model" --nthreads 2 --kl-divergence "$model.llama.lp")"
  local kl agree; kl="$(sed -n 's/.*: mean \([0-9.]*\),.*/\1/p' <<<"$out")"; agree="$(sed -n 's/.*top-1 agreement \([0-9.]*\) %.*/\1/p' <<<"$out")"
  [[ -n "$kl" && -n "$agree" ]] || { echo "$out" >&2; exit 1; }
  local verdict=ok
  if awk -v k="$kl" -v x="$max" 'BEGIN { exit !(k > x) }'; then verdict="FAIL (bound: KL <= $max)"; fi
  printf '| %s | %s | %s | %s |\n' "$name" "$kl" "$agree %" "$verdict"
}

# job COMMAND...: runs it in the background, two at a time: most of a comparison is one thread (node-llama-cpp's loop
# over each distribution, a JVM starting), so two run side by side on two cores in little more than the time of one.
# Its rows go to a file of its own; rows prints them in the order the jobs were started.
started=0 printed=0 failed=0
job() {
  while (( $(jobs -rp | wc -l) >= 2 )); do wait -n || true; done
  local n=$((started++))
  ( set +e; ( set -e; "$@" ) >"$work/rows.$n" 2>"$work/err.$n"; echo $? >"$work/status.$n" ) &
}
rows() {
  wait
  for (( ; printed < started; printed++ )); do
    cat "$work/rows.$printed"
    [[ "$(cat "$work/status.$printed")" == 0 ]] || { cat "$work/err.$printed" >&2; exit 1; }
    if grep -q '| FAIL' "$work/rows.$printed"; then failed=1; fi
  done
}

echo "| file | mean KL divergence from llama.cpp | top-1 agreement | verdict |"
echo "|---|---|---|---|"
herd convert --model "$shared/models/stories15M.bin" --tokenizer "$shared/models/llama2-tokenizer.model" --weights-float-type f32 --output "$work/s15-f32.gguf" >/dev/null
tokens s15 "$work/s15-f32.gguf"
job compare "stories15M F32" "$work/s15-f32.gguf" 0.0001 s15
s15() { quantize "$work/s15-f32.gguf" "$work/s15-$1.gguf" "$1"; compare "stories15M $1 (llama.cpp)" "$work/s15-$1.gguf" 0.005 s15; }
for t in q8_0 q4_0 q4_1 q5_0 q5_1 q6_k q4_k_m; do job s15 "$t"; done
rows

# Random weights: nearly uniform distributions (the top token ~2.5e-4 likely), on which top-1 agreement measures
# rounding (a 0.5 % difference in a logit reorders the top); two random models of one shape (seeds 1 and 99) are 0.31 apart
# in KL divergence. Embeddings tied, to keep the file small.
cat >"$work/r-config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
 "num_hidden_layers": 2, "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 2048,
 "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "vocab_size": 32000, "tie_word_embeddings": true}
JSON
herd convert --random --config "$work/r-config.json" --tokenizer "$shared/models/llama2-tokenizer.model" --weights-float-type f32 --seed 7 --output "$work/r-f32.gguf" >/dev/null
tokens r "$work/r-f32.gguf"
random1b() { quantize "$work/r-f32.gguf" "$work/r-$1.gguf" "$1"; compare "random 1B-layer $1 (llama.cpp)" "$work/r-$1.gguf" 0.001 r; }
for t in q2_k q3_k_m q4_k_m q5_k_m q6_k iq4_nl iq4_xs; do job random1b "$t"; done
rows

# The other architectures, random and small (dim 256, 2 layers, the Llama 2 vocabulary): Qwen2 (Q/K/V biases), the
# mixtures of experts Qwen3 MoE (renormalized), Mixtral (llama with experts) and Qwen2 MoE (not renormalized, a shared
# expert), and Gemma (GeGLU, one KV head of 64): in F32 the same function as llama.cpp's, quantized by llama.cpp's quantizer the random-model bound. On the
# text's first half: llama.cpp's full distributions take node-llama-cpp ~10 s per file of the whole text.
head -c 900 "$text" >"$work/half.txt"
arch() {
  local name="$1" json="$2"
  echo "$json" >"$work/$name.json"
  herd convert --random --config "$work/$name.json" --tokenizer "$shared/models/llama2-tokenizer.model" --weights-float-type f32 --seed 7 --output "$work/$name-f32.gguf" >/dev/null
  tokens "$name" "$work/$name-f32.gguf" "$work/half.txt"
  compare "random $name F32" "$work/$name-f32.gguf" 0.0001 "$name"
  quantize "$work/$name-f32.gguf" "$work/$name-q4_0.gguf" q4_0
  compare "random $name q4_0 (llama.cpp)" "$work/$name-q4_0.gguf" 0.001 "$name"
}
shape='"hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 4, "max_position_embeddings": 2048, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "vocab_size": 32000'
job arch qwen2 "{\"architectures\": [\"Qwen2ForCausalLM\"], \"intermediate_size\": 1024, \"tie_word_embeddings\": true, $shape}"
job arch qwen3moe "{\"architectures\": [\"Qwen3MoeForCausalLM\"], \"head_dim\": 32, \"moe_intermediate_size\": 128, \"num_experts\": 8, \"num_experts_per_tok\": 2, \"norm_topk_prob\": true, $shape}"
job arch mixtral "{\"architectures\": [\"MixtralForCausalLM\"], \"intermediate_size\": 512, \"num_local_experts\": 4, \"num_experts_per_tok\": 2, $shape}"
job arch qwen2moe "{\"architectures\": [\"Qwen2MoeForCausalLM\"], \"moe_intermediate_size\": 128, \"shared_expert_intermediate_size\": 512, \"num_experts\": 8, \"num_experts_per_tok\": 2, $shape}"
job arch gemma "{\"architectures\": [\"GemmaForCausalLM\"], \"intermediate_size\": 1024, \"head_dim\": 64, \"hidden_act\": \"gelu\", ${shape/\"num_key_value_heads\": 4/\"num_key_value_heads\": 1}}"
rows

# With STORIES_ARCHS=1 (by hand: 3 more minutes), the same architectures made of stories15M's trained weights
# (stories_arch.py: the same function as stories15M, or nearly), on whole text, F32 and llama.cpp's Q8_0 and Q4_0:
# top-1 agreement on distributions a model is sure of, where on random weights it measures rounding.
if [[ "${STORIES_ARCHS:-}" == 1 ]]; then
  s15arch() {
    local a="$1"
    python3 "$here/stories_arch.py" "$shared/models/stories15M.bin" "$a" "$work/s15-$a"
    herd convert --model "$work/s15-$a" --tokenizer "$shared/models/llama2-tokenizer.model" --weights-float-type f32 --output "$work/s15-$a-f32.gguf" >/dev/null
    tokens "s15-$a" "$work/s15-$a-f32.gguf"
    compare "stories15M as $a F32" "$work/s15-$a-f32.gguf" 0.0001 "s15-$a"
    for t in q8_0 q4_0; do
      quantize "$work/s15-$a-f32.gguf" "$work/s15-$a-$t.gguf" "$t"
      compare "stories15M as $a $t (llama.cpp)" "$work/s15-$a-$t.gguf" 0.005 "s15-$a"
    done
  }
  for a in qwen2 mixtral qwen3moe qwen2moe; do job s15arch "$a"; done
  rows
fi
[[ -n "${1:-}" ]] || rm -rf "$work"
exit $failed
