#!/usr/bin/env bash
# Runs storefront-examples/curl/purchase.sh against a real quanqu server with the demo shop.
# Usage: storefront_example_test.sh PATH_TO_QUANQU
set -euo pipefail
bin=${1:?path to the quanqu executable}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
"$bin" serve --demo --port 0 --threads 2 --database "sqlite:$dir/demo.db" >"$dir/out.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do grep -q '"msg":"listening"' "$dir/out.log" && break; sleep 0.1; done
line() { grep "\"msg\":\"$1\"" "$dir/out.log" | head -n 1; }
port=$(line listening | python3 -c 'import json,sys; print(json.load(sys.stdin)["port"])')
key=$(line "demo keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["publishable_key"])')
bash "$here/../storefront-examples/curl/purchase.sh" "http://127.0.0.1:$port" "$key"
