"""Shared test fixtures: launch a Blocks app on 127.0.0.1 and talk to it through gradio_client."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The cpp_wrapping lab compiles its shipped extensions in the background on first visit; tests
# that need them build them themselves (a browser visit would otherwise start a minute of compiling).
os.environ.setdefault("CPP_WRAPPING_PREBUILD", "0")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_collection_modifyitems(config, items):
    """Skip tests marked `gpu` when torch sees no CUDA device."""
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(skip)


@pytest.fixture
def serve_blocks():
    """Launch a gr.Blocks on a free 127.0.0.1 port; returns its URL. Closed after the test.

    Usage: ``url = serve_blocks(demo)``.
    """
    launched = []

    def _serve(demo) -> str:
        from shared.ui import LIGHT_CONCURRENCY

        demo.queue(default_concurrency_limit=LIGHT_CONCURRENCY)
        _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(),
                                prevent_thread_lock=True, quiet=True)
        launched.append(demo)
        return url

    yield _serve
    for demo in launched:
        demo.close()


# Every client call in the tests has its own time limit, far below pytest's suite-wide 600 s: a
# server that hangs or goes idle fails the test that called it within this, with its name.
CALL_TIMEOUT_S = float(os.environ.get("ML_LABS_TEST_CALL_TIMEOUT", "120"))


def timed_client(src: str, *, timeout: float = CALL_TIMEOUT_S, **kwargs):
    """A `gradio_client.Client` whose `predict` gives up after `timeout` seconds.

    gradio_client's own `predict` waits forever; this one submits the job and waits for its
    result with a limit, cancelling the job on timeout (`concurrent.futures.TimeoutError`).
    """
    from gradio_client import Client

    class TimedClient(Client):
        call_timeout = timeout

        def predict(self, *args, api_name=None, fn_index=None, **kw):
            job = self.submit(*args, api_name=api_name, fn_index=fn_index, **kw)
            try:
                return job.result(timeout=self.call_timeout)
            except TimeoutError:
                job.cancel()
                raise TimeoutError(f"{api_name or fn_index} gave no answer within {self.call_timeout:g} s") from None

    kwargs.setdefault("verbose", False)
    return TimedClient(src, **kwargs)


@pytest.fixture
def client_for(serve_blocks):
    """Launch a gr.Blocks and return a time-limited `gradio_client.Client` connected to it.

    Usage: ``client = client_for(demo); client.predict(..., api_name="/<slug>_...")``.
    """

    def _client(demo):
        return timed_client(serve_blocks(demo), download_files=False)

    return _client


@pytest.fixture
def shared_mode(monkeypatch):
    """Serve as to untrusted visitors (a Space, a public bind): `ML_LABS_SHARED=1`."""
    monkeypatch.setenv("ML_LABS_SHARED", "1")
    monkeypatch.delenv("ML_LABS_OFFER", raising=False)


@pytest.fixture
def operator_secrets(monkeypatch):
    """Plant fake operator credentials in the environment; yields the dict of what was set."""
    from tests.hostile import FAKE_SECRETS

    for name, value in FAKE_SECRETS.items():
        monkeypatch.setenv(name, value)
    yield dict(FAKE_SECRETS)


@pytest.fixture
def recorder():
    """A recording HTTP listener on 127.0.0.1 (`tests.hostile.Recorder`), closed after the test."""
    from tests.hostile import Recorder

    rec = Recorder()
    yield rec
    rec.close()


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    """transformers_tour's tiny-model folder in a fresh place for one module (the user's cache stays clean)."""
    old = os.environ.get("TRANSFORMERS_TOUR_CACHE")
    root = tmp_path_factory.mktemp("tiny-models")
    os.environ["TRANSFORMERS_TOUR_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("TRANSFORMERS_TOUR_CACHE", None)
    else:
        os.environ["TRANSFORMERS_TOUR_CACHE"] = old
