#!/usr/bin/env bash
# Set up the suite in ./.venv: every lab's requirements at the versions requirements/locks/suite.txt
# pins (torch's CPU wheel included). With --test, also the test tools: pytest and Playwright
# (Python), Debian's chromium for the browser test, and each lab's own tools (.ci/lab-<slug>.sh).
# Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
want_tests=false
[[ "${1:-}" == "--test" ]] && want_tests=true

if [[ ! -x .venv/bin/python ]]; then
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "!! the suite needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>/dev/null || echo "not found")." >&2
    echo "   Install one (e.g. python3.11 from your package manager or pyenv), then: PYTHON=python3.11 bash .ci/setup.sh" >&2
    exit 1
  fi
  echo "==> creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv || {
    rm -rf .venv
    echo "!! could not create a virtual environment. On Debian/Ubuntu: sudo apt-get install python3-venv" >&2
    echo "   (or set PYTHON=/path/to/python3.11), then run this command again." >&2
    exit 1
  }
fi

# Every version comes from requirements/locks/suite.txt (written by spaces/lock.py with pip's
# resolver), passed as a constraint: the tests run exactly what the locks, and so the Spaces, pin.
# It pins torch's CPU build (torch==X+cpu), which lives on PyTorch's CPU index: that index is added
# when it answers (or TORCH_INDEX_URL names another one); otherwise pip's own configuration (a
# find-links folder or a mirror) must provide the wheel.
extra_index=()
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
  extra_index=(--extra-index-url "$TORCH_INDEX_URL")
elif .venv/bin/python -c 'import urllib.request as u; u.urlopen(u.Request("https://download.pytorch.org/whl/cpu/", method="HEAD"), timeout=5)' 2>/dev/null; then
  extra_index=(--extra-index-url https://download.pytorch.org/whl/cpu)
fi

reqs=(-r requirements/base.txt)
for f in requirements/*.txt; do
  case "$(basename "$f")" in base.txt|dev.txt|constraints.txt) ;; *) reqs+=(-r "$f") ;; esac
done
$want_tests && reqs+=(-r requirements/dev.txt)
# What Hugging Face adds to every Gradio Space (gradio's oauth/mcp extras, uvicorn, spaces).
reqs+=(-r requirements/locks/space-runtime.in)

echo "==> installing Python packages (${reqs[*]}), versions from requirements/locks/suite.txt"
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check ${extra_index[@]+"${extra_index[@]}"} \
  -c requirements/constraints.txt -c requirements/locks/suite.txt "${reqs[@]}" || {
  echo "!! pip could not install the locked versions. If it says no torch==...+cpu was found, PyTorch's" >&2
  echo "   CPU index is unreachable: set TORCH_INDEX_URL to a mirror of https://download.pytorch.org/whl/cpu." >&2
  echo "   If you changed requirements/*.txt, regenerate the locks: .venv/bin/python spaces/lock.py" >&2
  exit 1
}

if $want_tests; then
  as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
  if ! command -v chromium >/dev/null; then
    echo "==> installing Debian chromium for the browser test"
    if command -v apt-get >/dev/null; then
      as_root apt-get update -q && as_root apt-get install -y -q chromium chromium-driver fonts-noto-color-emoji \
        || echo "!! could not install chromium: the browser test will be skipped"
    else
      echo "!! no apt-get here: install Chromium yourself, or the browser test will be skipped"
    fi
  fi
  for script in .ci/lab-*.sh; do
    [[ -e "$script" ]] || continue
    echo "==> $script"
    bash "$script" || echo "!! $script failed: tests that need its tools will be skipped"
  done
fi
echo "==> ready"
