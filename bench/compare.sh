#!/usr/bin/env bash
# Herd against llama.cpp on the same GGUF files: every (round, model, threads, setting) runs both sides back to back,
# in alternating order each round, and a Markdown table per setting gives each side's tok/s, the ratios, and the share
# of the memory-bandwidth bound each side's decoding reaches (the read bandwidth is measured in the same run).
#
# usage: bench/compare.sh [-r ROUNDS] [-t THREADS] [-s SETTINGS] [-n TOKENS] [-p PROMPT] [-o OUTDIR] MODEL.gguf...
#   or the same by environment: MODELS, ROUNDS (3), THREADS ("1 2"), SETTINGS ("best avx2 narrow"), TOKENS (64),
#   PROMPT (default: SENTENCE repeated to PROMPT_TOKENS=128 tokens with each file's tokenizer; the same text for both
#   engines), OUTDIR (target/compare-DATE), BW_MIB (1024: bandwidth buffer), LLAMACPP_RUN (../shared/bench/llamacpp/run.sh).
# Settings, side A against side B:
#   best    Herd's default against llama.cpp's default (it loads its best CPU build: AVX-512 where the CPU has it)
#   avx2    Herd with -XX:UseAVX=2 against llama.cpp's AVX2 build alone (LLAMACPP_CPU=haswell)
#   narrow  Herd with -XX:MaxVectorSize=16 (128-bit vectors, as on NEON) against Herd with -XX:MaxVectorSize=32
#           (256-bit vectors, as on AVX2); should be >= 0.5
# Ratios are A/B per pair; only pairs from the same round compare (the machine is shared and noisy).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAVA_HOME="$("$root/bin/find-jdk")"; export JAVA_HOME
java=("$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED)
llamacpp=${LLAMACPP_RUN:-$root/../shared/bench/llamacpp/run.sh}
ROUNDS=${ROUNDS:-3} THREADS=${THREADS:-"1 2"} SETTINGS=${SETTINGS:-"best avx2 narrow"} TOKENS=${TOKENS:-64}
SENTENCE=${SENTENCE:-"The quick brown fox jumps over the lazy dog near the river bank."} PROMPT_TOKENS=${PROMPT_TOKENS:-128}
PROMPT=${PROMPT:-} MODELS=${MODELS:-} BW_MIB=${BW_MIB:-1024}
OUTDIR=${OUTDIR:-$root/target/compare-$(date -u +%Y%m%dT%H%M%SZ)}
while getopts "r:t:s:n:p:o:h" opt; do
  case $opt in
    r) ROUNDS=$OPTARG ;; t) THREADS=$OPTARG ;; s) SETTINGS=$OPTARG ;; n) TOKENS=$OPTARG ;; p) PROMPT=$OPTARG ;;
    o) OUTDIR=$OPTARG ;; *) sed -n '2,14p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
PROMPT=${PROMPT//$'\n'/ }                           # one line: it is passed back from ModelBytes as one
read -r -a models <<<"$MODELS"; models+=("$@")
[[ ${#models[@]} -gt 0 ]] || { echo "compare.sh: name at least one GGUF file (arguments or MODELS)" >&2; exit 2; }
for s in $SETTINGS; do [[ $s =~ ^(best|avx2|narrow)$ ]] || { echo "compare.sh: unknown setting $s (best, avx2, narrow)" >&2; exit 2; }; done
mkdir -p "$OUTDIR"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# Best read GB/s for each thread count, from BandwidthBench run from source (no test build needed, so it does not
# depend on the rest of the test tree compiling while others edit it).
bandwidth() {
  "${java[@]}" "$root/src/test/java/dev/herd/bench/BandwidthBench.java" --mib "$BW_MIB" $THREADS 2>/dev/null |
    sed -n 's/^bandwidth threads=\([0-9]*\) best_gb_s=\([0-9.]*\) median_gb_s=\([0-9.]*\).*/\1 \2 \3/p'
}

# Herd: "decode prompt" tok/s from its --report JSON. The prompt rate is prompt tokens over the time to the first
# token when the report has timeToFirstTokenMs (the same definition as llama.cpp's figure), else its own rate.
run_herd() { # java-opts model threads tag
  local json="$OUTDIR/$4.json" steps=$((${prompt_tokens[$2]} + TOKENS))
  if HERD_JAVA_OPTS="${HERD_JAVA_OPTS:-} $1" "$root/herd" inference --model "$2" --prompt "${prompt[$2]}" --steps "$steps" \
       --temperature 0 --nthreads "$3" --report "$json" >"$OUTDIR/$4.log" 2>&1; then
    jq -r '[.decodeTokensPerSecond, (if .timeToFirstTokenMs then (.promptIds | length) / (.timeToFirstTokenMs / 1000)
            else .promptTokensPerSecond end)] | @tsv' "$json"
    jq -r 'if has("timeToFirstTokenMs") then "ttft" else "rate" end' "$json" >>"$OUTDIR/herd-prompt-source"
  else
    log "Herd failed, see $OUTDIR/$4.log"; printf -- '-\t-\n'
  fi
}

# llama.cpp through node-llama-cpp: "decode prompt" tok/s from the last JSON line (prompt = tokens / time to first token).
run_llamacpp() { # cpu-build-or-empty model threads tag
  local build=(env -u LLAMACPP_CPU)                # the default: llama.cpp picks its CPU build itself
  [[ -z $1 ]] || build=(env LLAMACPP_CPU="$1")
  if "${build[@]}" "$llamacpp" "$2" "$3" "$TOKENS" 1 "${prompt[$2]}" >"$OUTDIR/$4.log" 2>&1; then
    grep '^{' "$OUTDIR/$4.log" | tail -1 | jq -r '[.decode_tok_s, .prompt_tok_s] | @tsv'
  else
    log "llama.cpp failed, see $OUTDIR/$4.log"; printf -- '-\t-\n'
  fi
}

# One side of a setting: A is always a Herd variant, B is llama.cpp or Herd's default.
side() { # setting A|B model threads tag
  case $1-$2 in
    best-A) run_herd "" "${@:3}" ;;                 best-B) run_llamacpp "" "${@:3}" ;;
    avx2-A) run_herd "-XX:UseAVX=2" "${@:3}" ;;     avx2-B) run_llamacpp haswell "${@:3}" ;;
    narrow-A) run_herd "-XX:MaxVectorSize=16" "${@:3}" ;; narrow-B) run_herd "-XX:MaxVectorSize=32" "${@:3}" ;;
  esac
}

# --- before the runs: build, machine, bandwidth, model facts ---
"$root/herd" --version >&2                        # builds target/herd.jar now rather than inside the first pair
jar_sum=$(md5sum <"$root/target/herd.jar")
load_start=$(load) date_start=$(date -u '+%Y-%m-%d %H:%M UTC')
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
flags=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo | tr ' ' '\n' |
        grep -xE 'avx2|fma|avx512f|avx512bw|avx512_vnni|avx_vnni|asimd|asimddp|sve|i8mm' | sort -u | xargs)
log "measuring read bandwidth ($BW_MIB MiB, threads $THREADS)"
declare -A bw bw_text prompt prompt_tokens repeats token_bytes file_bytes
while read -r t best median; do bw[$t]=$best; bw_text[$t]="$best (median $median)"; done < <(bandwidth)
for m in "${models[@]}"; do
  # Bytes per token, and the prompt: PROMPT as given, else SENTENCE repeated to PROMPT_TOKENS with this file's tokenizer.
  { read -r _ tb fb pt rp && read -r _ text; } < <("${java[@]}" -cp "$root/target/herd.jar" \
      "$root/src/test/java/dev/herd/bench/ModelBytes.java" "$m" "${PROMPT:-$SENTENCE}" "$([[ -n $PROMPT ]] && echo 0 || echo "$PROMPT_TOKENS")" \
      2>/dev/null) || { echo "compare.sh: cannot read $m as GGUF" >&2; exit 1; }
  token_bytes[$m]=${tb#*=} file_bytes[$m]=${fb#*=} prompt_tokens[$m]=${pt#*=} repeats[$m]=${rp#*=} prompt[$m]=$text
done

# --- the runs: every pair back to back, A first in odd rounds and B first in even ones ---
results="$OUTDIR/results.tsv"; : >"$results"; : >"$OUTDIR/herd-prompt-source"
for ((round = 1; round <= ROUNDS; round++)); do
  for m in "${models[@]}"; do
    for t in $THREADS; do
      for s in $SETTINGS; do
        tag="r$round-$(basename "$m" .gguf)-t$t-$s"
        log "round $round: $(basename "$m"), $t threads, $s"
        if ((round % 2)); then a=$(side "$s" A "$m" "$t" "$tag-A"); b=$(side "$s" B "$m" "$t" "$tag-B")
        else b=$(side "$s" B "$m" "$t" "$tag-B"); a=$(side "$s" A "$m" "$t" "$tag-A"); fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$(basename "$m")" "$t" "$round" \
          "${a%%$'\t'*}" "${b%%$'\t'*}" "${a#*$'\t'}" "${b#*$'\t'}" >>"$results"
      done
    done
  done
done

# Bandwidth again at the end; the bound is the best of the two measurements.
while read -r t best median; do
  bw_text[$t]+=", end $best (median $median)"; awk -v a="$best" -v b="${bw[$t]}" 'BEGIN { exit !(a > b) }' && bw[$t]=$best
done < <(bandwidth)
# Herd reports without timeToFirstTokenMs (older builds) give prompt evaluation alone, a slightly kinder figure.
ttft_runs=$(grep -c ttft "$OUTDIR/herd-prompt-source" || true) rate_runs=$(grep -c rate "$OUTDIR/herd-prompt-source" || true)
herd_prompt="the same, from timeToFirstTokenMs"
((rate_runs == 0)) || herd_prompt="promptTokensPerSecond (prompt evaluation only, no timeToFirstTokenMs in the report)"
((rate_runs == 0 || ttft_runs == 0)) || herd_prompt="mixed: from timeToFirstTokenMs in $ttft_runs runs, prompt evaluation only in $rate_runs"
[[ "$(md5sum <"$root/target/herd.jar")" == "$jar_sum" ]] || jar_note="WARNING: target/herd.jar was rebuilt during the run (sources changed); rounds may mix builds."

# --- the report ---
{
  echo "## Herd against llama.cpp, $date_start"
  echo
  echo "- Processor: $cpu, $(nproc) CPUs; vector flags: ${flags:-none}; JDK $("$JAVA_HOME/bin/java" -version 2>&1 | sed -n 's/.*version "\(.*\)".*/\1/p')"
  echo "- Load average (1, 5, 15 min): start $load_start, end $(load) (at $(date -u +%H:%M) UTC)"
  echo "- Herd $(git -C "$root" describe --always --dirty 2>/dev/null); rounds: $ROUNDS; tokens decoded: $TOKENS; greedy"
  for t in $THREADS; do echo "- Read bandwidth on $t thread$( ((t > 1)) && echo s): start ${bw_text[$t]:-?} GB/s; bound uses ${bw[$t]:-?} GB/s"; done
  for m in "${models[@]}"; do
    echo "- $(basename "$m"): ${prompt_tokens[$m]} prompt tokens$([[ -z $PROMPT ]] && echo " (\"$SENTENCE\" x ${repeats[$m]})"); $((${token_bytes[$m]} / 1000000)) MB read per token (file $((${file_bytes[$m]} / 1000000)) MB)"
  done
  echo "- Bound share = bytes read per token x decode tok/s / read bandwidth on as many threads (1.00 = memory-bound)."
  echo "- llama.cpp prompt tok/s = prompt tokens / time to first token (includes one decode step). Herd's: $herd_prompt."
  [[ -n ${jar_note:-} ]] && echo "- $jar_note"
  for s in $SETTINGS; do
    case $s in
      best) A=Herd B=llama.cpp title="best: each engine's default (llama.cpp picks its best CPU build, the JVM its widest vectors)" ;;
      avx2) A="Herd UseAVX=2" B="llama.cpp haswell" title="avx2: both limited to AVX2" ;;
      narrow) A="Herd 128-bit" B="Herd 256-bit" title="narrow: Herd with 128-bit vectors (as on NEON) against Herd with 256-bit vectors; ratios should be >= 0.5" ;;
    esac
    echo; echo "### $title"; echo
    echo "| model | threads | $A decode tok/s | $B decode tok/s | decode ratio | $A prompt tok/s | $B prompt tok/s | prompt ratio | $A bound share | $B bound share |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for m in "${models[@]}"; do
      awk -F'\t' -v s="$s" -v m="$(basename "$m")" -v bytes="${token_bytes[$m]}" -v bws="$(for t in $THREADS; do echo -n "$t=${bw[$t]:-0} "; done)" '
        function num(x) { return x ~ /^[0-9.]+$/ && x > 0 }
        function list(c,   i, o) { for (i = 1; i <= n[t]; i++) o = o (i > 1 ? ", " : "") (num(v[t, c, i]) ? sprintf("%.2f", v[t, c, i]) : "-"); return o }
        function share(c,   i, o) { for (i = 1; i <= n[t]; i++) o = o (i > 1 ? ", " : "") (num(v[t, c, i]) && bw[t] > 0 ? sprintf("%.2f", v[t, c, i] * bytes / (bw[t] * 1e9)) : "-"); return o }
        function ratio(c,   i, j, k, r, x) {  # min-max (median) of A/B over the rounds where both ran
          for (i = 1; i <= n[t]; i++) if (num(v[t, c, i]) && num(v[t, c + 1, i])) r[++k] = v[t, c, i] / v[t, c + 1, i]
          if (!k) return "-"
          for (i = 2; i <= k; i++) { x = r[i]; for (j = i - 1; j >= 1 && r[j] > x; j--) r[j + 1] = r[j]; r[j + 1] = x }
          if (k == 1) return sprintf("%.2f", r[1])
          return sprintf("%.2f–%.2f (median %.2f)", r[1], r[k], k % 2 ? r[(k + 1) / 2] : (r[k / 2] + r[k / 2 + 1]) / 2)
        }
        BEGIN { split(bws, p, " "); for (i in p) { split(p[i], q, "="); bw[q[1]] = q[2] } }
        $1 == s && $2 == m { if (!($3 in n)) order[++threads] = $3; k = ++n[$3]; for (c = 5; c <= 8; c++) v[$3, c, k] = $c }
        END { for (i = 1; i <= threads; i++) { t = order[i]
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", m, t, list(5), list(6), ratio(5), list(7), list(8), ratio(7), share(5), share(6) } }
      ' "$results"
    done
  done
  # The 128-bit requirement: every narrow pair at >= 0.5 of Herd at 256 bits, for decode and prompt.
  [[ " $SETTINGS " == *" narrow "* ]] && awk -F'\t' '$1 == "narrow" { for (c = 5; c <= 7; c += 2) if ($c > 0 && $(c + 1) > 0) {
      r = $c / $(c + 1); if (!(c in lo) || r < lo[c]) lo[c] = r } }
    END { printf "\n128-bit check (>= 0.5): lowest decode ratio %.2f, lowest prompt ratio %.2f: %s\n", lo[5], lo[7],
          (lo[5] >= 0.5 && lo[7] >= 0.5) ? "pass" : "FAIL" }' "$results"
  echo; echo "Raw reports and logs: $OUTDIR"
} | tee "$OUTDIR/results.md"
