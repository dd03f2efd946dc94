#!/usr/bin/env bash
# Real clients against `herd api` on the committed fixture: the official openai npm package, then headless Chromium
# on the chat page. Installs its npm packages here (node_modules is not committed) and Debian's chromium if missing.
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
log="$(mktemp)"
# A pause per token so that the page visibly streams.
./herd api --model src/main/resources/models/stories15M-q8_0.gguf --port 0 --api-key "$key" --token-delay-ms 10 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 600); do
  grep -q 'serving' "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
url="$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -1)"
[[ -n "$url" ]] || { echo "clients: herd api did not start" >&2; cat "$log" >&2; exit 1; }
node tools/clients/openai-check.mjs "$url" "$key"
node tools/clients/browser-check.mjs "$url" "$key"
