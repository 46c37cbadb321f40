#!/usr/bin/env bash
# System tools the cuda_benchmark lab uses: a C compiler, to build the dependent-add loop that
# measures the achieved CPU clock (labs/cuda_benchmark/clock.py). Without one the lab still runs
# (the peak then uses the reported clock) and the clock tests are skipped. Idempotent.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
if ! command -v cc >/dev/null; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends gcc libc6-dev
fi
cc --version | head -1
