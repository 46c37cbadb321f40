"""Lab 5 (cpp_wrapping): nanobind beside pybind11, and the CUDA kernel built by torch's load_inline.

nanobind and pybind11 are compiled for real with g++ in a fresh cache (about 15 s together on 2
cores). The load_inline CUDA kernel needs an NVIDIA GPU and a CUDA build of torch: its tests are
marked `gpu` and skipped elsewhere; on a machine without one the tests check that the lab says so.
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from labs.cpp_wrapping import bindings, build, cuda_torch, wrapping

HAS_CXX = any(shutil.which(c) for c in ("g++", "c++", "clang++"))
HAS_NANOBIND = importlib.util.find_spec("nanobind") is not None and importlib.util.find_spec("pybind11") is not None
needs_bindings = pytest.mark.skipif(not (HAS_CXX and HAS_NANOBIND),
                                    reason="needs g++, pybind11 and nanobind (requirements/cpp_wrapping.txt)")


def _cuda_ready() -> bool:
    return cuda_torch.gpu_status()[0]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One fresh compile cache for the module: each binding is compiled once, then loaded."""
    folder = tmp_path_factory.mktemp("native_cache")
    mp = pytest.MonkeyPatch()
    mp.setenv(build.CACHE_ENV, str(folder))
    mp.delenv(build.ALLOW_EDITS_ENV, raising=False)
    yield folder
    mp.undo()


# --- nanobind ----------------------------------------------------------------------------------

@needs_bindings
def test_nanobind_builds_caches_and_matches_pybind11(cache):
    assert not build.is_built("nanobind")
    nb = build.build_nanobind()
    assert not nb.cached and nb.seconds > 0 and nb.artefact.exists()
    assert "nb_combined.cpp" in nb.log and "-fvisibility=hidden" in nb.log  # the core, with the pybind11 flags
    assert build.is_built("nanobind")
    again = build.build_nanobind()
    assert again.cached and again.seconds == 0 and again.module is nb.module
    assert build.recorded_compile_seconds(again.artefact) > 0  # still known from the cache

    pb = build.build_pybind11()
    x, y = wrapping.make_inputs(10_001, seed=7)
    out_nb, out_pb = nb.module.saxpy(1.5, x, y), pb.module.saxpy(1.5, x, y)
    assert isinstance(out_nb, np.ndarray) and out_nb.dtype == np.float64
    assert np.array_equal(out_nb, out_pb) and np.array_equal(out_nb, 1.5 * x + y)
    assert nb.module.add(2, 40) == pb.module.add(2, 40) == 42
    with pytest.raises(ValueError, match="same length"):
        nb.module.saxpy(1.0, x, y[:5])
    with pytest.raises(TypeError):  # a 2-D array does not match the ndarray<ndim<1>> signature
        nb.module.saxpy(1.0, x.reshape(1, -1), y.reshape(1, -1))


@needs_bindings
def test_compare_runs_nanobind_as_a_way(cache):
    result = wrapping.compare(("numpy", "pybind11", "nanobind"), n_small=4, n_large=50_000, compile_slow=True)
    row = result.row("nanobind")
    assert row.status == "ok" and row.max_abs_diff == 0.0 and row.overhead_us > 0 and row.throughput_meps > 0
    assert wrapping.LABELS["nanobind"] in [r[0] for r in wrapping.table(result)]


@needs_bindings
def test_binding_comparison_has_both_rows(cache):
    rows, python_ns = bindings.compare_bindings(n_small=4, n_large=20_000, calls=2_000)
    table = bindings.table(rows)
    assert [r[0] for r in table] == [wrapping.LABELS["pybind11"], wrapping.LABELS["nanobind"]]
    assert all(len(r) == len(bindings.TABLE_HEADERS) for r in table)
    pb, nb = rows
    assert pb.core_s is None and nb.core_s > 0  # only nanobind has a separately compiled core
    assert all(r.compile_s > 0 and r.so_bytes > 10_000 and r.add_ns > 0 and r.same_as_pybind11 for r in rows)
    assert python_ns > 0 and "identical" in bindings.summary(rows, python_ns)


@needs_bindings
def test_bindings_and_cuda_sections_through_gradio_client(client_for, cache):
    from gradio_client.exceptions import AppError

    from labs.cpp_wrapping import app

    client = client_for(app.demo)
    summary, table = client.predict(2.0, 4, 10_000, api_name="/cpp_wrapping_bindings")
    assert "nanobind vs pybind11" in summary and len(table["data"]) == 2
    # The main table with the nanobind source box left empty: the shipped source runs.
    labels = [wrapping.LABELS[w] for w in ("numpy", "nanobind")]
    summary, table, *_ = client.predict(labels, 2.0, 4, 10_000, "", "", "", "", "", api_name="/cpp_wrapping_compile")
    assert [row[1] for row in table["data"]] == ["ok", "ok"], summary
    if not _cuda_ready():
        summary, rows, log = client.predict(1000, api_name="/cpp_wrapping_cuda_torch")
        assert "No GPU" in summary or "nvcc" in summary
    with pytest.raises(AppError, match="empty"):
        client.predict(None, api_name="/cpp_wrapping_cuda_torch")


# --- CUDA through load_inline --------------------------------------------------------------------

def test_without_a_gpu_the_lab_says_so_plainly():
    if _cuda_ready():
        pytest.skip("this machine has a GPU: the gpu-marked tests cover it")
    ok, message = cuda_torch.gpu_status()
    assert not ok and ("No GPU" in message or "nvcc" in message or "not installed" in message)
    with pytest.raises(ValueError, match="No GPU|nvcc|not installed"):
        cuda_torch.measure(1000)
    assert "No GPU" in cuda_torch.quick_gpu_line() or "driver is present" in cuda_torch.quick_gpu_line()


def test_cuda_sizes_are_checked_before_anything_runs():
    with pytest.raises(ValueError, match="at least 1"):
        cuda_torch.measure(0)
    with pytest.raises(ValueError, match="above the limit"):
        cuda_torch.measure(wrapping.MAX_N + 1)


@pytest.mark.gpu
def test_load_inline_kernel_is_timed_apart_from_the_copies(cache):
    if not _cuda_ready():
        pytest.skip(cuda_torch.gpu_status()[1])
    timing = cuda_torch.measure(2_000_000)
    assert timing.max_abs_diff == 0.0  # __dmul_rn/__dadd_rn: the same roundings as NumPy
    assert timing.kernel_ms > 0 and timing.h2d_ms > 0 and timing.d2h_ms > 0
    # SAXPY moves the same bytes through GPU memory as over PCIe, which is far slower.
    assert timing.kernel_ms < timing.h2d_ms
    (row,) = cuda_torch.table(timing)
    assert len(row) == len(cuda_torch.TABLE_HEADERS) and row[-1] == "identical"
    assert cuda_torch.measure(1000).cached  # built once, then loaded from its folder


@pytest.mark.gpu
def test_load_inline_kernel_checks_its_arguments(cache):
    if not _cuda_ready():
        pytest.skip(cuda_torch.gpu_status()[1])
    import torch

    module = cuda_torch.build_torch_cuda().module
    cpu = torch.zeros(8, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="CUDA tensors"):
        module.saxpy_into(1.0, cpu, cpu, cpu)
    gpu32 = torch.zeros(8, dtype=torch.float32, device="cuda")
    with pytest.raises(RuntimeError, match="float64"):
        module.saxpy_into(1.0, gpu32, gpu32, gpu32)
    x = torch.arange(1000, dtype=torch.float64, device="cuda")
    out = torch.empty_like(x)
    module.saxpy_into(2.0, x, x, out)
    assert torch.equal(out, 3 * x)
