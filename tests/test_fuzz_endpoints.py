"""A fuzz pass over every named endpoint of every lab, served in shared mode.

Each endpoint gets all-None inputs, then one hostile value per input (a 200,000-character string,
a server path, a metadata URL, NaN, infinity, huge or negative numbers, a file that is not what it
claims). Every answer must be a result or a clear message: never a Python error's own words,
gradio's generic text or the suite's "something went wrong" wrapper (which means a bug), and never
a hang (each call has its own time limit). Fake operator credentials sit in the environment the
whole time; none may appear in any reply, in the server's log or output, or in any file the
labs wrote.
"""

from __future__ import annotations

import logging
import os
import time

import pytest

from labs import LABS
from tests.conftest import free_port, timed_client
from tests.fuzzing import hostile_calls, judge
from tests.hostile import leaked_secrets

CALL_TIMEOUT_S = 90


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_every_endpoint_answers_hostile_input_clearly(lab, tmp_path, monkeypatch, operator_secrets, caplog, capfd):
    from gradio_client import handle_file

    import launcher
    from shared import scratch
    from shared.ui import LIGHT_CONCURRENCY, apply_limits

    caplog.set_level(logging.INFO)
    started_at = time.time()
    monkeypatch.setenv("ML_LABS_SHARED", "1")
    suite = launcher.build(lab.slug)
    suite.queue(default_concurrency_limit=LIGHT_CONCURRENCY)
    apply_limits(suite, shared=True)
    _, url, _ = suite.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                             quiet=True, show_error=True)
    try:
        client = timed_client(url, download_files=False, timeout=CALL_TIMEOUT_S)
        endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        assert endpoints, "the lab has no named endpoint"
        junk = tmp_path / "picture.png"
        junk.write_bytes(b"this is not a picture, whatever its name says")
        problems, answers, calls, started = [], [], 0, time.perf_counter()
        for name, endpoint in endpoints.items():
            for what, args in hostile_calls(endpoint, handle_file(str(junk))):
                calls += 1
                try:
                    answers.append(client.predict(*args, api_name=name))
                except TimeoutError:
                    problems.append(f"{name} {what}: no answer within {CALL_TIMEOUT_S} s")
                except Exception as exc:  # gradio_client's AppError carries the message the user sees
                    answers.append(str(exc))
                    why = judge(str(exc))
                    if why:
                        problems.append(f"{name} {what}: {why}: {str(exc)[:160]!r}")
        print(f"\n{lab.slug}: {len(endpoints)} endpoints, {calls} hostile calls in {time.perf_counter() - started:.0f} s")
        assert not problems, "\n".join(problems)
        out, err = capfd.readouterr()
        assert not leaked_secrets(*answers, caplog.text, out, err), "an operator secret reached a reply or the log"
        assert not leaked_secrets(*_new_small_files(scratch.suite_roots(), since=started_at)), \
            "an operator secret was written to a file"
    finally:
        suite.close()


def _new_small_files(roots: list[str], *, since: float, limit: int = 1 << 20) -> list[bytes]:
    """The contents of files under `roots` changed since `since`, up to `limit` bytes each."""
    contents = []
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                try:
                    if os.lstat(path).st_mtime >= since:
                        with open(path, "rb") as fh:
                            contents.append(fh.read(limit))
                except OSError:
                    continue
    return contents
