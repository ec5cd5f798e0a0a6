#!/usr/bin/env bash
# Installs the outside OpenAPI checkers (Redocly CLI, openapi-typescript, TypeScript; pinned by
# tests/openapi/package-lock.json) from the npm registry into a directory, default
# build/openapi-tools. scripts/test.sh runs it; the test openapi.external_tools uses them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/build/openapi-tools}
mkdir -p "$dest"
cp "$root/tests/openapi/package.json" "$root/tests/openapi/package-lock.json" "$dest/"
cd "$dest"
npm ci --no-audit --no-fund --ignore-scripts
