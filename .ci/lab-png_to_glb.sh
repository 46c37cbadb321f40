#!/usr/bin/env bash
# The Khronos glTF Validator (npm, JS API only) that checks every GLB the png_to_glb tests write.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -d node_modules/gltf-validator ]]; then
  command -v npm >/dev/null || { echo "npm missing: install Node.js to validate GLB files"; exit 1; }
  npm install --prefix . --no-audit --no-fund --silent gltf-validator
fi
