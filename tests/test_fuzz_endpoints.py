"""A fuzz pass over every named endpoint of every lab, served in shared mode.

Each endpoint gets all-None inputs, then one hostile value per input (a 200,000-character string,
a server path, a metadata URL, NaN, infinity, huge or negative numbers, a file that is not what it
claims). Every answer must be a result or a clear message: never a Python error's own words,
gradio's generic text or the suite's "something went wrong" wrapper (which means a bug), and never
a hang (each call has its own time limit).
"""

from __future__ import annotations

import time

import pytest

from labs import LABS
from tests.conftest import free_port, timed_client
from tests.fuzzing import hostile_calls, judge

CALL_TIMEOUT_S = 90


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_every_endpoint_answers_hostile_input_clearly(lab, tmp_path, monkeypatch):
    from gradio_client import handle_file

    import launcher
    from shared.ui import LIGHT_CONCURRENCY, apply_limits

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
        problems, calls, started = [], 0, time.perf_counter()
        for name, endpoint in endpoints.items():
            for what, args in hostile_calls(endpoint, handle_file(str(junk))):
                calls += 1
                try:
                    client.predict(*args, api_name=name)
                except TimeoutError:
                    problems.append(f"{name} {what}: no answer within {CALL_TIMEOUT_S} s")
                except Exception as exc:  # gradio_client's AppError carries the message the user sees
                    why = judge(str(exc))
                    if why:
                        problems.append(f"{name} {what}: {why}: {str(exc)[:160]!r}")
        print(f"\n{lab.slug}: {len(endpoints)} endpoints, {calls} hostile calls in {time.perf_counter() - started:.0f} s")
        assert not problems, "\n".join(problems)
    finally:
        suite.close()
