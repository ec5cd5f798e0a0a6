#!/usr/bin/env bash
# Installs what is needed, builds the quanqu server and runs it on 127.0.0.1:8080 with the
# demo shop in an SQLite file (quanqu.db). The first start shows a new admin key once; every start logs the publishable key.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target quanqu quanqu_reference_plugins
# A browser storefront on a local dev server (Vite 5173/4173, Next.js/CRA 3000, others) works
# against the demo out of the box; set QUANQU_CORS_ORIGINS to change the list.
dev_ports=(3000 4173 5173 8000 8081)
origins=()
for port in "${dev_ports[@]}"; do origins+=("http://localhost:$port" "http://127.0.0.1:$port"); done
default_origins=$(IFS=,; echo "${origins[*]}")
# The reference plugins (manual-payment, card-gateway, local-delivery) load from the build.
exec ./build/quanqu serve --demo --database "${QUANQU_DATABASE_URL:-sqlite:quanqu.db}" \
  --plugins-dir "${QUANQU_PLUGINS_DIR:-build/plugins}" \
  --cors-origins "${QUANQU_CORS_ORIGINS:-$default_origins}" "$@"
