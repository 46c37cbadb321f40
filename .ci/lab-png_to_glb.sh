#!/usr/bin/env bash
# The Khronos glTF Validator (npm, JS API only) that checks every GLB the png_to_glb tests write,
# installed into .ci/node_modules. Node.js and npm come from Debian when missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  as_root apt-get update -q && as_root apt-get install -y -q nodejs npm
fi
if [[ ! -d node_modules/gltf-validator ]]; then
  npm install --prefix . --no-audit --no-fund --silent gltf-validator
fi
