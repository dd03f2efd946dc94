#!/usr/bin/env bash
# One cluster benchmark run: root + (NODES-1) workers, `herd inference --report`, then a one-line summary.
#
#   NODES=4 bench/lan/run.sh                 # emulated gigabit LAN (bench/lan/netns.sh), relays add latency
#   MODE=loopback NODES=2 bench/lan/run.sh   # plain loopback, no namespaces, no relays
#
# Settings (environment): MODEL, NODES (1, 2, 4...), THREADS per process (1), STEPS (48), PROMPT, MAX_SEQ_LEN (512),
# BUFFER (q80), MODE (lan|loopback), DELAY_US (relay delay each way, 200), OUT (output directory),
# HEAP (-Xmx of root and workers; default: the JVM's own, a quarter of the RAM), SYNC (the root's all-reduce: mesh, star,
# or auto, the default: a mesh up to 4 nodes), WEIGHTS (each node's weight, root first, e.g. "2 1": an unequal split;
# "auto": --balance auto, weights from the speeds the nodes measure; default equal), SLOW (a node made slower, as an older machine: every process is pinned to CPU node % CPUs, and a
# busy loop pinned to node SLOW's CPU takes about half of it), WORKER_ARGS (more flags for every worker, e.g.
# "--slice-cache DIR"), LAN_PREFIX and LAN_SWITCH (the namespaces' names, see netns.sh).
# Output in $OUT: root.log (per-token lines and summary), report.json, worker<i>.log, relay<i>.log, and
# *.status (the last /proc/PID/status of each process: VmHWM is its peak RSS). The summary line goes to stdout.
# In lan mode node i runs in namespace herd-n$i at 10.77.0.(i+1); worker i listens on 127.0.0.1:9998 inside
# its namespace and is reached through its relay on 10.77.0.(i+1):9999, so every byte crosses the shaped links
# and the relay. The LAN is set up for the run and removed afterwards unless KEEP_LAN=1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODEL=${MODEL:-/work/bench-data/llama1b-q4_0.gguf}
NODES=${NODES:-2}
THREADS=${THREADS:-1}
STEPS=${STEPS:-48}
PROMPT=${PROMPT:-"Hello world"}
MAX_SEQ_LEN=${MAX_SEQ_LEN:-512}
BUFFER=${BUFFER:-q80}
MODE=${MODE:-lan}
DELAY_US=${DELAY_US:-200}
HEAP=${HEAP:-}
read -r -a weights <<<"${WEIGHTS:-}"
[[ ${WEIGHTS:-} == auto ]] && weights=()
SLOW=${SLOW:-}
OUT=${OUT:-$root/target/lan/$MODE-n$NODES-t$THREADS-$(date +%H%M%S)}
mkdir -p "$OUT"

JAVA_HOME="$("$root/bin/find-jdk")"
SYNC=${SYNC:-auto}
export JAVA_HOME HERD_JAVA_OPTS="${HEAP:+-Xmx$HEAP} -Dherd.sync=$SYNC"
java="$JAVA_HOME/bin/java"
# the jar and the relay (a test class): build once
[[ -f $root/target/herd.jar ]] || (cd "$root" && ./mvnw -q -B -ntp -DskipTests package >&2)
[[ -f $root/target/test-classes/dev/herd/bench/DelayRelay.class ]] || (cd "$root" && ./mvnw -q -B -ntp test-compile >&2)

pids=()         # every process we start, stopped by pid on exit
lan_up=0
# runs a command on node $1 (pinned to one CPU when SLOW is set); used with & it execs, so $! is the pid of the
# process itself (herd execs java too)
pin=()
cpus=$(nproc)
in_ns() {
  [[ -n $SLOW ]] && pin=(taskset -c $(($1 % cpus)))
  if [[ $MODE == lan ]]; then exec ip netns exec "${LAN_PREFIX:-herd-n}$1" "${pin[@]}" "${@:2}"; else exec "${pin[@]}" "${@:2}"; fi
}
read -ra worker_args <<<"${WORKER_ARGS:-}"

# copies a process's /proc status to a file while it lives (VmHWM only grows, so the last copy has the peak)
# (a process that has exited but not been reaped has no Vm lines: keep the previous copy then)
snapshot() {
  local s
  s=$(cat "/proc/$1/status" 2>/dev/null) || return 0
  [[ $s == *VmHWM* ]] && printf '%s\n' "$s" >"$2"
  return 0
}

cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null || true
  done
  if ((lan_up)) && [[ ${KEEP_LAN:-0} != 1 ]]; then "$root/bench/lan/netns.sh" down; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $MODE == lan ]]; then
  "$root/bench/lan/netns.sh" up "$NODES"
  lan_up=1
fi

# workers (and their relays): node i of NODES
workers=()
for ((i = 1; i < NODES; i++)); do
  if [[ $MODE == lan ]]; then
    in_ns "$i" "$root/herd" worker --host 127.0.0.1 --port 9998 --nthreads "$THREADS" "${worker_args[@]}" >"$OUT/worker$i.log" 2>&1 &
    pids+=($!); wpid[i]=$!
    in_ns "$i" "$java" --enable-native-access=ALL-UNNAMED -Xmx64m -cp "$root/target/test-classes" dev.herd.bench.DelayRelay \
      "10.77.0.$((i + 1)):9999" 127.0.0.1:9998 "$DELAY_US" >"$OUT/relay$i.log" 2>&1 &
    pids+=($!); rpid[i]=$!
    workers+=("10.77.0.$((i + 1)):9999")
  else
    in_ns "$i" "$root/herd" worker --host 127.0.0.1 --port $((9998 + i)) --nthreads "$THREADS" "${worker_args[@]}" >"$OUT/worker$i.log" 2>&1 &
    pids+=($!); wpid[i]=$!
    workers+=("127.0.0.1:$((9998 + i))")
  fi
done
# the slow node: a busy loop sharing its CPU
if [[ -n $SLOW ]]; then
  taskset -c $((SLOW % cpus)) sh -c 'while :; do :; done' &
  pids+=($!)
fi
# weights: the root's with --root-weight, each worker's as HOST:PORT*W
if ((${#weights[@]})); then
  for ((i = 1; i < NODES; i++)); do workers[i - 1]="${workers[i - 1]}*${weights[i]}"; done
fi
# wait until each worker listens (the root also retries, but a JVM start is slow on a busy machine)
for ((i = 1; i < NODES; i++)); do
  for _ in $(seq 100); do grep -q "worker listening" "$OUT/worker$i.log" && break; sleep 0.2; done
done

# the root, in namespace herd-n0; its status is copied every 0.2 s
args=(inference --model "$MODEL" --prompt "$PROMPT" --steps "$STEPS" --nthreads "$THREADS" --temperature 0
  --max-seq-len "$MAX_SEQ_LEN" --buffer-float-type "$BUFFER" --report "$OUT/report.json")
((NODES > 1)) && args+=(--workers "${workers[@]}")
((${#weights[@]})) && args+=(--root-weight "${weights[0]}")
[[ ${WEIGHTS:-} == auto ]] && args+=(--balance auto)
echo "root: herd ${args[*]}" >"$OUT/command.txt"
in_ns 0 "$root/herd" "${args[@]}" >"$OUT/root.out" 2>"$OUT/root.log" &
rootpid=$!
pids+=("$rootpid")
while kill -0 "$rootpid" 2>/dev/null; do
  snapshot "$rootpid" "$OUT/root.status"
  for ((i = 1; i < NODES; i++)); do snapshot "${wpid[i]}" "$OUT/worker$i.status"; done
  sleep 0.2
done
rc=0
wait "$rootpid" || rc=$?
# the workers keep their session memory until the root says BYE; take their peak now
for ((i = 1; i < NODES; i++)); do
  snapshot "${wpid[i]}" "$OUT/worker$i.status"
  [[ $MODE == lan ]] && snapshot "${rpid[i]}" "$OUT/relay$i.status"
done
if ((rc != 0)); then
  echo "run.sh: the root failed (rc $rc); see $OUT/root.log" >&2
  tr "\r" "\n" <"$OUT/root.log" | tail -3 >&2
  exit "$rc"
fi

# summary: figures from the root's own summary lines, peak RSS from VmHWM (MiB)
hwm() { awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "$1" 2>/dev/null || echo "?"; }
load=$(tr '\r' '\n' <"$OUT/root.log" | sed -n 's/^loaded [0-9]* workers in \([0-9.]*\) s.*/\1/p')
decode=$(sed -n 's/^Decode: *[0-9]* tokens, \([0-9.]*\) tok\/s.*/\1/p' "$OUT/root.log")
sync=$(sed -n 's/^Sync: *\([0-9.]*\) ms\/token.*/\1/p' "$OUT/root.log")
sent=$(sed -n 's/^Sync:.*sent \([0-9.]*\) kB.*/\1/p' "$OUT/root.log")
recv=$(sed -n 's/^Sync:.*received \([0-9.]*\) kB.*/\1/p' "$OUT/root.log")
# medians over the decode tokens (the first entry is the prompt): whole ms/token and sync ms/token; needs jq
med() { jq "[.tokens[1:][] | $1] | sort | .[length / 2 | floor] * 100 | round / 100" "$OUT/report.json" 2>/dev/null || echo "?"; }
medtok=$(med '.evalMs + .syncMs')
medsync=$(med '.syncMs')
rss="root $(hwm "$OUT/root.status")"
for ((i = 1; i < NODES; i++)); do rss+=" w$i $(hwm "$OUT/worker$i.status")"; done
for ((i = 1; i < NODES; i++)); do [[ $MODE == lan ]] && rss+=" relay$i $(hwm "$OUT/relay$i.status")"; done
printf '%s %s nodes=%d weights=%s slow=%s threads=%d load_s=%s decode_tok_s=%s sync_ms_tok=%s median_ms_tok=%s median_sync_ms=%s sent_kB_tok=%s recv_kB_tok=%s peak_rss_MiB: %s out=%s\n' \
  "$MODE" "$SYNC" "$NODES" "${WEIGHTS:-equal}" "${SLOW:-none}" "$THREADS" "${load:-?}" "$decode" "${sync:-0}" "$medtok" "$medsync" "${sent:-0}" "${recv:-0}" "$rss" "$OUT" | tee "$OUT/summary.txt"
