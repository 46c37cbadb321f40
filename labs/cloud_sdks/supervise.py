"""Run one emulator as a child and stop it when its parent (the lab's server) goes away.

    python supervise.py PARENT_PID -- COMMAND [ARGS...]

The lab starts every emulator through this small script. It keeps the emulator in its own
process group and kills that whole group (node or Flask may start helpers) when:
- it receives SIGTERM or SIGINT (the lab's normal `stop()`), or
- the parent process is gone (the server was killed without running its exit hooks).
So an emulator never outlives the lab that started it. Standard library only: it runs as a
script, not as part of the `labs` package.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

POLL_S = 0.5  # how often to check that the parent is still alive
GRACE_S = 5.0  # how long the emulator gets to exit after SIGTERM before SIGKILL


def _kill_group(child: subprocess.Popen) -> None:
    """Terminate the child's process group, then kill it if it lingers."""
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        child.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: supervise.py PARENT_PID -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    parent = int(argv[0])
    # The emulator gets its own session, so one killpg reaches every process it starts.
    child = subprocess.Popen(argv[2:], start_new_session=True)

    def stop(*_args) -> None:
        _kill_group(child)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while child.poll() is None:
        # Re-parenting (getppid changes) means the lab's server died without stopping us.
        if os.getppid() != parent:
            stop()
        time.sleep(POLL_S)
    return child.returncode or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
