#!/usr/bin/env bash
# Tools the cpp_wrapping tests need: a C++ compiler (ctypes, pybind11, torch load_inline) and
# ninja (torch's extension builder; the PyPI wheel is in requirements/cpp_wrapping.txt, the
# Debian one is a fallback). nvcc is optional: without it the CUDA way is skipped and says so.
set -euo pipefail
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
missing=()
command -v g++ >/dev/null || missing+=(g++)
command -v ninja >/dev/null || missing+=(ninja-build)
if (( ${#missing[@]} )); then
  as_root apt-get update -q && as_root apt-get install -y -q "${missing[@]}"
fi
g++ --version | head -1
