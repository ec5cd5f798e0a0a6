#!/usr/bin/env bash
# Installs the outside OpenAPI checkers (Redocly CLI, openapi-typescript, TypeScript; pinned in
# tests/openapi/package.json) from the npm registry into a directory, default build/openapi-tools.
# The test openapi.external_tools uses them when present and is skipped otherwise.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/build/openapi-tools}
mkdir -p "$dest"
cp "$root/tests/openapi/package.json" "$dest/package.json"
cd "$dest"
npm install --no-audit --no-fund --ignore-scripts
