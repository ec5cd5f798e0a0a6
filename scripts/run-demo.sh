#!/usr/bin/env bash
# Installs what is needed, builds the quanqu server and runs it on 127.0.0.1:8080 with the
# demo shop in an SQLite file (quanqu.db). The first start shows a new admin key once; every start logs the publishable key.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target quanqu quanqu_reference_plugins
# The reference plugins (manual-payment, card-gateway, local-delivery) load from the build.
exec ./build/quanqu serve --demo --database "${QUANQU_DATABASE_URL:-sqlite:quanqu.db}" \
  --plugins-dir "${QUANQU_PLUGINS_DIR:-build/plugins}" "$@"
