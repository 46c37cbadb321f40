"""Lab 5 (cpp_wrapping): the background build of the slow ways, and a click that waits for it."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from labs.cpp_wrapping import build, prebuild, wrapping


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))
    monkeypatch.delenv(prebuild.PREBUILD_ENV, raising=False)
    monkeypatch.setattr(prebuild, "_state", {})
    monkeypatch.setattr(prebuild, "_thread", None)
    yield tmp_path


def _join():
    if prebuild._thread is not None:
        prebuild._thread.join(timeout=60)


def test_switched_off_by_the_environment(fresh, monkeypatch):
    monkeypatch.setenv(prebuild.PREBUILD_ENV, "0")
    assert not prebuild.start(("ctypes",)) and prebuild.status_line() == ""


@pytest.mark.skipif(not shutil.which("g++") and not shutil.which("c++"), reason="no C++ compiler")
def test_builds_what_is_missing_once_then_nothing(fresh):
    assert prebuild.start(("ctypes",))
    _join()
    assert prebuild.state("ctypes") == "ready" and build.is_built("ctypes")
    assert "ready (compiled in" in prebuild.status_line()
    assert not prebuild.start(("ctypes",))  # cached: no second thread


def test_one_low_priority_thread_and_a_click_that_waits_with_progress(fresh, monkeypatch):
    seen = {}

    def slow_build(source=None):
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, 0)  # this thread's priority (Linux: per thread)
        time.sleep(2.5)
        seen["done"] = True
        return build.BuildResult("pybind11", fresh, 2.5, False, "", None)

    monkeypatch.setattr(prebuild, "_BUILDERS", {"pybind11": slow_build})
    monkeypatch.setattr(build, "is_built", lambda way, source=None: bool(seen.get("done")))
    assert prebuild.start(("pybind11",))
    assert not prebuild.start(("pybind11",))  # never more than one build at a time
    messages = []
    assert prebuild.wait("pybind11", messages.append, timeout_s=30)
    assert seen["nice"] == prebuild.NICENESS and os.getpriority(os.PRIO_PROCESS, 0) < prebuild.NICENESS
    assert any("C++ via pybind11: compiling (" in m and "s so far)" in m for m in messages)


def test_quick_run_waits_for_the_background_build(fresh, monkeypatch):
    monkeypatch.setattr(prebuild, "_state", {"torch": {"state": "compiling", "started": time.monotonic()}})

    def finish(way, progress, timeout_s):
        progress(prebuild.describe(way))
        prebuild._state["torch"]["state"] = "failed"
        prebuild._state["torch"]["error"] = "stopped by the test"
        return False

    monkeypatch.setattr(prebuild, "wait", finish)
    messages = []
    result = wrapping.compare(("numpy", "torch"), n_small=4, n_large=1000, progress=messages.append)
    assert any("compiling (" in m for m in messages)
    assert result.row("torch").status == "skipped"  # the build did not finish: nothing compiled in the click
