#!/usr/bin/env bash
# Runs the whole test suite: installs dependencies, builds, and runs every test through CTest
# on SQLite and on PostgreSQL (a throwaway server on loopback unless QUANQU_TEST_POSTGRES_URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"
# The outside OpenAPI checks (test openapi.external_tools), once per build directory.
cmp -s tests/openapi/package-lock.json build/openapi-tools/package-lock.json || bash scripts/install-openapi-tools.sh build/openapi-tools

pg_dir=
cleanup() {
  if [ -n "$pg_dir" ]; then bash scripts/test-postgres.sh stop "$pg_dir"; rm -rf "$pg_dir"; fi
}
trap cleanup EXIT
if [ -z "${QUANQU_TEST_POSTGRES_URL:-}" ]; then
  pg_dir=$(mktemp -d /tmp/quanqu-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  QUANQU_TEST_POSTGRES_URL=$(bash scripts/test-postgres.sh start "$pg_dir" "$port")
  export QUANQU_TEST_POSTGRES_URL
fi
echo "PostgreSQL for tests: $QUANQU_TEST_POSTGRES_URL"

ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 600
