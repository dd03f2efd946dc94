#!/usr/bin/env bash
# Continuous batching under load: N streaming clients at once (ClientsBench) against `herd api --parallel`, on one node
# and on the root + one worker over loopback, in rounds of 1, 2, 4 and 8 clients. Prints a Markdown table: aggregate
# tok/s (every completion token over the round's wall time, prompts included) and its ratio to one client's, decode
# tok/s (every token after each stream's first, from the first stream's first text to the last one's end) and its
# ratio, mean and worst time to first token, and mean per-stream decode tok/s; with the load average before each round
# (the machine may be shared).
#
# usage: bench/clients.sh MODEL.gguf   (build first: ./mvnw -q -DskipTests package)
#   environment: CLIENTS ("1 2 4 8"), TOKENS (64), SETUPS ("one two"), THREADS (2 on one node; each of the two nodes
#   gets THREADS/2, at least 1, as they share this machine), CONTEXT (512: --max-seq-len of each slot),
#   PORT (9990), WORKER_PORT (9991), OUTDIR (target/clients-DATE)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAVA_HOME="$("$root/bin/find-jdk")"; export JAVA_HOME
model=${1:?usage: bench/clients.sh MODEL.gguf}
CLIENTS=${CLIENTS:-"1 2 4 8"} TOKENS=${TOKENS:-64} SETUPS=${SETUPS:-"one two"} THREADS=${THREADS:-2} CONTEXT=${CONTEXT:-512}
PORT=${PORT:-9990} WORKER_PORT=${WORKER_PORT:-9991}
OUTDIR=${OUTDIR:-$root/target/clients-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUTDIR"
max=0; for n in $CLIENTS; do (( n > max )) && max=$n; done
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
load() { cut -d' ' -f1 /proc/loadavg; }
wait_for() { # file pattern pid
  for _ in $(seq 1 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { log "it stopped: $(tail -n 1 "$1")"; exit 1; }
    sleep 1
  done
  log "timed out waiting for '$2' in $1"; exit 1
}

echo "| setup | clients | aggregate tok/s | x 1 client | decode tok/s | x 1 client | TTFT mean ms | TTFT max ms | per-stream tok/s | load |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for setup in $SETUPS; do
  workers=() threads=$THREADS
  if [[ $setup == two ]]; then
    threads=$(( THREADS / 2 > 0 ? THREADS / 2 : 1 ))
    "$root/herd" worker --host 127.0.0.1 --port "$WORKER_PORT" --nthreads "$threads" >"$OUTDIR/worker.log" 2>&1 &
    pids+=($!)
    wait_for "$OUTDIR/worker.log" "listening" $!
    workers=(--workers "127.0.0.1:$WORKER_PORT")
  fi
  "$root/herd" api --model "$model" --port "$PORT" --parallel "$max" --max-seq-len "$CONTEXT" --nthreads "$threads" \
    "${workers[@]}" >"$OUTDIR/api-$setup.log" 2>&1 &
  pids+=($!)
  wait_for "$OUTDIR/api-$setup.log" "herd api: serving" $!
  "$JAVA_HOME/bin/java" "$root/src/test/java/dev/herd/bench/ClientsBench.java" --url "http://127.0.0.1:$PORT" --clients 1 --tokens 8 >/dev/null # JIT
  base="" dbase=""
  for n in $CLIENTS; do
    l=$(load)
    log "$setup: $n clients (load $l)"
    line=$("$JAVA_HOME/bin/java" "$root/src/test/java/dev/herd/bench/ClientsBench.java" --url "http://127.0.0.1:$PORT" --clients "$n" --tokens "$TOKENS")
    echo "$setup $line load=$l" >>"$OUTDIR/raw.txt"
    get() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$line"; }
    agg=$(get aggregate_tok_s) dec=$(get decode_tok_s); [[ -z $base ]] && base=$agg dbase=$dec
    printf '| %s | %d | %s | %.2f | %s | %.2f | %s | %s | %s | %s |\n' "$( [[ $setup == one ]] && echo "1 node" || echo "root + 1 worker" )" \
      "$n" "$agg" "$(echo "$agg / $base" | bc -l)" "$dec" "$(echo "$dec / $dbase" | bc -l)" "$(get ttft_ms_mean)" "$(get ttft_ms_max)" \
      "$(get stream_tok_s_mean)" "$l"
  done
  cleanup; pids=(); sleep 2
done
