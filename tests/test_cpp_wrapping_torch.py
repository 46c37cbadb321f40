"""Lab 5 (cpp_wrapping): the torch.utils.cpp_extension.load_inline way, compiled for real.

The first build compiles torch's headers: about a minute on 2 cores. It goes to the per-user cache
(~/.cache/ml_labs/cpp_wrapping, or $CPP_WRAPPING_CACHE), so later runs on the same machine are
instant, exactly as in the lab.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from labs.cpp_wrapping import build, wrapping

pytest.importorskip("torch")
pytest.importorskip("ninja")
pytestmark = pytest.mark.skipif(not shutil.which("g++") and not shutil.which("c++"), reason="no C++ compiler")


def test_load_inline_extension_matches_numpy_and_is_cached(monkeypatch):
    import torch

    monkeypatch.delenv(build.ALLOW_EDITS_ENV, raising=False)
    first = build.build_torch()
    assert "load_inline" in first.log and "build.ninja" in first.log
    again = build.build_torch()
    assert again.cached and again.seconds == 0.0 and again.module is first.module
    assert build.is_built("torch")
    x, y = wrapping.make_inputs(12_345)
    out = first.module.saxpy(1.25, torch.from_numpy(x), torch.from_numpy(y))
    assert np.array_equal(out.numpy(), 1.25 * x + y)
    with pytest.raises(RuntimeError, match="float64"):
        first.module.saxpy(1.0, torch.ones(3, dtype=torch.float32), torch.ones(3, dtype=torch.float32))
    result = wrapping.compare(("numpy", "torch"), n_small=4, n_large=10_000)
    assert result.row("torch").status == "ok" and result.row("torch").max_abs_diff == 0.0
