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


@pytest.fixture
def client_for(serve_blocks):
    """Launch a gr.Blocks and return a `gradio_client.Client` connected to it.

    Usage: ``client = client_for(demo); client.predict(..., api_name="/<slug>_...")``.
    """
    from gradio_client import Client

    def _client(demo):
        return Client(serve_blocks(demo), verbose=False, download_files=False)

    return _client
