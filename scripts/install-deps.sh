#!/usr/bin/env bash
# Installs Quanqu's build, test and benchmark dependencies from Debian 12's packages (Node.js and
# npm only when no npm is on the PATH, so that a newer Node.js already installed is kept).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libboost-dev libboost-filesystem-dev libboost-program-options-dev
  libsoci-dev libsqlite3-dev libpq-dev
  nlohmann-json3-dev libssl-dev zlib1g-dev libgtest-dev libgmock-dev
  libvalijson-dev libsodium-dev
  postgresql wrk jq python3
)

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  [ ${#missing[@]} -gt 0 ] || $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends nodejs npm
fi
