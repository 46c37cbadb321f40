"""Start-up time: process start to first HTTP answer, the launcher vs a bare gradio hello-world.

    python benchmarks/startup.py [--repeats 3] [--labs slug,slug]

Both are measured in this run, alternating, as fresh processes; the ratio launcher / bare is the
figure that matters (goal: at most 1.3x), since absolute times depend on the machine. One untimed
start of each comes first, with Python allowed to write bytecode caches (`__pycache__`), so both
are timed as a user's second start is: gradio's site-packages are cached from install, and the
suite's own modules from that first start (PYTHONDONTWRITEBYTECODE would otherwise make every start
recompile the suite but not gradio).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BARE = (
    "import gradio as gr\n"
    "with gr.Blocks() as demo:\n"
    "    name = gr.Textbox(); out = gr.Textbox()\n"
    "    name.submit(lambda n: f'Hello {n}', name, out)\n"
    "demo.launch(server_name='127.0.0.1')\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_http(cmd: list[str], timeout: float = 240) -> float:
    """Seconds from spawning `cmd` to its first successful HTTP GET on the chosen port."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited with {proc.returncode}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{cmd} did not answer within {timeout} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--labs", default="", help="only these labs in the launcher (default: all)")
    args = parser.parse_args()
    launcher_cmd = [sys.executable, "launcher.py"] + (["--labs", args.labs] if args.labs else [])
    bare, suite = [], []
    time_to_http([sys.executable, "-c", BARE])  # warm-up: file caches and bytecode, untimed
    time_to_http(launcher_cmd)
    for i in range(args.repeats):
        bare.append(time_to_http([sys.executable, "-c", BARE]))
        suite.append(time_to_http(launcher_cmd))
        print(f"run {i + 1}: bare gradio {bare[-1]:.2f} s, launcher {suite[-1]:.2f} s", flush=True)
    b, s = statistics.median(bare), statistics.median(suite)
    print(f"\nmedian time to first HTTP answer: bare gradio {b:.2f} s, launcher {s:.2f} s")
    print(f"ratio launcher / bare: {s / b:.2f}x (goal <= 1.30x)")


if __name__ == "__main__":
    main()
