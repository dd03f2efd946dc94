#!/usr/bin/env bash
# Real clients against `herd api` on the committed fixture: the official openai npm package and headless Chromium on
# one node, then the openai package again with the model split across two local workers. Installs its npm packages here (node_modules is not committed) and Debian's chromium if missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# target/herd.jar as ./test (Maven verify) left it, built if missing
[[ -f target/herd.jar ]] || ./mvnw -q -B -DskipTests package
(cd tools/clients && npm install --no-audit --no-fund --loglevel=error)
if ! command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null; then
  [[ $(id -u) == 0 ]] || { echo "clients: needs chromium (apt-get install chromium)" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

key="clients-$$"
pids=()
logs=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -f "${logs[@]}"' EXIT

# start VAR WORD ARGS...: runs `herd ARGS` in the background, waits for WORD in its output, sets VAR to its log file.
start() {
  local var="$1" word="$2"; shift 2
  local log; log="$(mktemp)"
  logs+=("$log")
  ./herd "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 600); do
    grep -q "$word" "$log" && { printf -v "$var" '%s' "$log"; return; }
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "clients: herd $1 did not start" >&2; cat "$log" >&2; exit 1
}
url_of() { grep -o 'http://[0-9.]*:[0-9]*' "$1" | head -1; }

model=src/main/resources/models/stories15M-q8_0.gguf
# One node; a pause per token so that the page visibly streams.
start single serving api --model "$model" --port 0 --api-key "$key" --token-delay-ms 10
node tools/clients/openai-check.mjs "$(url_of "$single")" "$key"
node tools/clients/browser-check.mjs "$(url_of "$single")" "$key"

# The same model split across this root and two local workers (stories15M splits into 1 or 3 nodes).
start w1 'listening on' worker --host 127.0.0.1 --port 0
start w2 'listening on' worker --host 127.0.0.1 --port 0
port_of() { grep -o 'listening on /127.0.0.1:[0-9]*' "$1" | head -1 | sed 's/.*://'; }
start split serving api --model "$model" --port 0 --api-key "$key" --workers "127.0.0.1:$(port_of "$w1")" "127.0.0.1:$(port_of "$w2")"
node tools/clients/openai-check.mjs "$(url_of "$split")" "$key"
echo "clients: openai npm client on 1 and 3 nodes, headless Chromium on 1 node: all checks passed"
