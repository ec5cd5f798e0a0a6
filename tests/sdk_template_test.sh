#!/usr/bin/env bash
# Out-of-tree plugin build: installs the SDK, builds sdk/template against it, loads it in a real server, calls its route.
# Usage: sdk_template_test.sh BUILD_DIR PATH_TO_QUANQU SOURCE_DIR
set -euo pipefail
build=${1:?the configured build directory of this repository}
bin=${2:?path to the quanqu executable}
src=${3:?the repository root}
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# 1. The SDK as a partner gets it: headers and the CMake package, nothing else.
cmake --install "$build" --prefix "$dir/sdk" --component sdk >"$dir/install.log"
test -f "$dir/sdk/include/quanqu/sdk/abi.h"
test -f "$dir/sdk/lib/cmake/QuanquSDK/QuanquSDKConfig.cmake" || test -f "$dir"/sdk/lib*/cmake/QuanquSDK/QuanquSDKConfig.cmake

# 2. The template as its own CMake project: configure, build, run its unit test.
cmake -S "$src/sdk/template" -B "$dir/build" -DCMAKE_PREFIX_PATH="$dir/sdk" >"$dir/configure.log"
cmake --build "$dir/build" -j 2 >"$dir/build.log"
ctest --test-dir "$dir/build" --output-on-failure >"$dir/ctest.log" || { cat "$dir/ctest.log"; exit 1; }
test -f "$dir/build/template/template.so" && test -f "$dir/build/template/plugin.json"

# 3. Dropped into a plugins directory of a real server.
mkdir -p "$dir/plugins"
cp -r "$dir/build/template" "$dir/plugins/"
admin=qq_admin_$(python3 -c 'import secrets; print(secrets.token_hex(16))')
"$bin" serve --port 0 --threads 2 --demo --admin-key "$admin" --database "sqlite:$dir/q.db" \
  --plugins-dir "$dir/plugins" >"$dir/out.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q '"msg":"listening"' "$dir/out.log" && break; sleep 0.1; done
port=$(grep '"msg":"listening"' "$dir/out.log" | head -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["port"])') || {
  cat "$dir/out.log"; exit 1; }
grep -q '"msg":"plugin loaded".*"plugin":"template"' "$dir/out.log" || { cat "$dir/out.log"; exit 1; }
base="http://127.0.0.1:$port"
auth=(-H "Authorization: Bearer $admin" -H 'Content-Type: application/json')

# A merchant configures a kiosk channel run by the plugin: a bad config is refused field by field.
code=$(curl -sS -o "$dir/bad.json" -w '%{http_code}' "${auth[@]}" -X POST "$base/v1/admin/channels" \
  --data '{"code":"kiosk","type":"app","currency":"CNY","plugin":"template","config":{"catalog_size":0,"colour":"red"}}')
test "$code" = 400 || { echo "bad config answered $code"; cat "$dir/bad.json"; exit 1; }
python3 - "$dir/bad.json" <<'PY'
import json, sys
fields = {f["field"] for f in json.load(open(sys.argv[1]))["errors"]}
assert {"config.greeting", "config.catalog_size", "config.colour"} <= fields, fields
PY
locations=$(curl -sS -f "${auth[@]}" "$base/v1/admin/stock-locations" | python3 -c 'import json,sys; print(json.dumps([l["id"] for l in json.load(sys.stdin)["items"]]))')
channel=$(curl -sS -f "${auth[@]}" -X POST "$base/v1/admin/channels" \
  --data '{"code":"kiosk","type":"app","currency":"CNY","plugin":"template","location_ids":'"$locations"',"config":{"greeting":"欢迎光临","kiosk_secret":"s3cret-value"}}')
echo "POST /v1/admin/channels -> $channel"
echo "$channel" | python3 -c 'import json,sys; c=json.load(sys.stdin); assert c["config"]["catalog_size"] == 10 and c["config"]["kiosk_secret"] == "********", c'
channel_id=$(echo "$channel" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
products=$(curl -sS -f "${auth[@]}" "$base/v1/admin/products?limit=3" | python3 -c 'import json,sys; print(json.dumps([p["id"] for p in json.load(sys.stdin)["items"]]))')
curl -sS -f "${auth[@]}" -X POST "$base/v1/admin/channels/$channel_id/publish" --data '{"product_ids":'"$products"'}' >/dev/null
key=$(curl -sS -f "${auth[@]}" -X POST "$base/v1/admin/channels/$channel_id/publishable-keys" --data '{"label":"kiosk"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
grep -q 'kiosk channel kiosk configured' "$dir/out.log" || { cat "$dir/out.log"; exit 1; }

# A kiosk storefront calls the plugin's routes with the channel's publishable key.
reply=$(curl -sS -f -H "X-Publishable-Key: $key" "$base/v1/plugins/template/hello")
echo "GET /v1/plugins/template/hello -> $reply"
echo "$reply" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["visits"] == 1 and b["message"] == "欢迎光临", b'
reply=$(curl -sS -f -H "X-Publishable-Key: $key" "$base/v1/plugins/template/catalog")
echo "$reply" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert len(b["items"]) == 3 and b["items"][0]["price"]["currency"] == "CNY", b'

# The merchant changes the config: the plugin is told and answers with the new greeting.
curl -sS -f "${auth[@]}" -X PATCH "$base/v1/admin/channels/$channel_id" --data '{"config":{"greeting":"ni hao"}}' >/dev/null
reply=$(curl -sS -f -H "X-Publishable-Key: $key" "$base/v1/plugins/template/hello")
echo "$reply" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["visits"] == 2 and b["message"] == "ni hao", b'

kill -TERM "$pid"
wait "$pid"
pid=
grep -q 'template plugin stopping' "$dir/out.log" || { cat "$dir/out.log"; exit 1; }
echo "sdk template: built out of tree, loaded, configured as a channel, served, stopped"
