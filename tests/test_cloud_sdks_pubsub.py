"""Pub/Sub in the cloud_sdks lab: what it says when it cannot run, and the demo's imports."""

from __future__ import annotations

import importlib.util

import pytest

from labs.cloud_sdks import queues
from labs.cloud_sdks.credentials import GcpTarget

HAVE_PUBSUB = importlib.util.find_spec("google.cloud.pubsub_v1") is not None


@pytest.mark.skipif(HAVE_PUBSUB, reason="google-cloud-pubsub is installed here")
def test_missing_library_says_why_and_what_to_do():
    reason = queues.pubsub_available(GcpTarget("emulator", ""))
    assert reason == queues.PUBSUB_NOT_INSTALLED
    assert "protobuf < 7" in reason and "pip install google-cloud-pubsub" in reason


@pytest.mark.skipif(not HAVE_PUBSUB, reason="google-cloud-pubsub is not installed (protobuf 7 conflict)")
def test_emulator_needed_message(monkeypatch):
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    reason = queues.pubsub_available(GcpTarget("emulator", ""))
    assert "PUBSUB_EMULATOR_HOST" in reason and "gcloud beta emulators pubsub start" in reason
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")
    assert queues.pubsub_available(GcpTarget("emulator", "")) == ""
