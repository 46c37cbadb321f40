#!/usr/bin/env bash
# Azurite, Microsoft's Azure Storage emulator (npm), for the cloud_sdks tests: installed into
# .ci/node_modules, where the lab looks for it (or set AZURITE_BIN). moto[server] and
# gcp-storage-emulator come from requirements/cloud_sdks.txt. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  as_root apt-get update -q && as_root apt-get install -y -q nodejs npm
fi
if [[ ! -x node_modules/.bin/azurite ]]; then
  npm install --prefix . --no-audit --no-fund --silent azurite
fi
node_modules/.bin/azurite --version
