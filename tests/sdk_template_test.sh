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
"$bin" serve --port 0 --threads 2 --database "sqlite:$dir/q.db" --plugins-dir "$dir/plugins" >"$dir/out.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q '"msg":"listening"' "$dir/out.log" && break; sleep 0.1; done
port=$(grep '"msg":"listening"' "$dir/out.log" | head -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["port"])') || {
  cat "$dir/out.log"; exit 1; }
grep -q '"msg":"plugin loaded".*"plugin":"template"' "$dir/out.log" || { cat "$dir/out.log"; exit 1; }

reply=$(curl -sS -f "http://127.0.0.1:$port/v1/plugins/template/hello")
echo "GET /v1/plugins/template/hello -> $reply"
echo "$reply" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["visits"] == 1 and "template" in b["message"], b'
curl -sS -f -X PUT "http://127.0.0.1:$port/v1/plugins/template/greeting" -H 'Content-Type: text/plain' --data 'ni hao'
reply=$(curl -sS -f "http://127.0.0.1:$port/v1/plugins/template/hello")
echo "$reply" | python3 -c 'import json,sys; b=json.load(sys.stdin); assert b["visits"] == 2 and b["message"] == "ni hao", b'

# 4. Stopped by its PID; the plugin's stop hook runs.
kill -TERM "$pid"
wait "$pid"
pid=
grep -q 'template plugin stopping' "$dir/out.log" || { cat "$dir/out.log"; exit 1; }
echo "sdk template: built out of tree, loaded, served, stopped"
