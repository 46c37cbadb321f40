#!/usr/bin/env bash
# System tools the wheel_packaging tests need: a C compiler for the native-library wheel and
# binutils' nm to list its exported symbols. Idempotent: installs only what is missing.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
missing=()
command -v cc >/dev/null || missing+=(gcc libc6-dev)
command -v nm >/dev/null || missing+=(binutils)
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
cc --version | head -1
nm --version | head -1
