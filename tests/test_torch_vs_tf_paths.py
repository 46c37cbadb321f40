"""Lab 6 · the paths beside Keras-on-TF: raw TensorFlow, TFLite export, the dispatch sweep.

TensorFlow runs in this process for the runner tests (as in test_torch_vs_tf.py) and in the
shared worker processes for the sweep; both skip with a reason when tensorflow-cpu is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from labs.torch_vs_tf import data, report, runs, settings, sweep, weights

HAS_TF = runs.available("tensorflow")
needs_tf = pytest.mark.skipif(not HAS_TF, reason="tensorflow-cpu not installed "
                              "(pip install -r requirements/torch_vs_tf.txt)")
STATED_ACCURACY = 0.90


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def _train(runner, ds, cfg):
    batches = data.batch_order(len(ds.x_train), cfg.batch_size, cfg.epochs, cfg.seed)
    return [runner.train_epoch(ds.x_train, ds.y_train, b)[0] for b in batches]


@needs_tf
@pytest.mark.parametrize("arch, optimizer, lr", [("mlp", "adam", 1e-3), ("cnn", "sgd", 0.05)])
def test_raw_tf_learns_the_same_curve_as_pytorch_without_keras(arch, optimizer, lr, digits):
    import sys

    import torch

    from labs.torch_vs_tf.raw_tf_side import RawTFRunner
    from labs.torch_vs_tf.torch_side import TorchRunner

    torch.set_num_threads(1)
    cfg = settings.make_config(arch=arch, optimizer=optimizer, lr=lr, epochs=3 if arch == "mlp" else 2)
    layers = weights.init_weights(arch, 8, cfg.seed)
    raw = RawTFRunner(cfg, 8, layers, variant="tf.function")
    assert raw.params == weights.count_params(layers) and raw.framework == "TensorFlow · raw tf.nn"
    np.testing.assert_allclose(raw.logits(digits.x_test), TorchRunner(cfg, 8, layers).logits(digits.x_test),
                               atol=1e-5)  # same weights, same outputs before training
    curves = [_train(r, digits, cfg) for r in (TorchRunner(cfg, 8, layers), raw)]
    np.testing.assert_allclose(curves[1], curves[0], rtol=0.02)
    if arch == "mlp":
        assert raw.evaluate(digits.x_test, digits.y_test)[1] >= STATED_ACCURACY
    assert not any(type(v).__module__.startswith("keras") for v in raw.variables)  # no Keras in the column
    assert "keras" not in sys.modules or "keras" not in type(raw.model).__module__


@needs_tf
def test_raw_tf_eager_and_traced_agree(digits):
    from labs.torch_vs_tf.raw_tf_side import RawTFRunner

    cfg = settings.make_config(arch="mlp", epochs=1, batch_size=128)
    layers = weights.init_weights("mlp", 8, cfg.seed)
    eager, traced = RawTFRunner(cfg, 8, layers), RawTFRunner(cfg, 8, layers, variant="tf.function")
    np.testing.assert_allclose(_train(eager, digits, cfg), _train(traced, digits, cfg), rtol=1e-5)
    with pytest.raises(ValueError, match="raw TensorFlow variants"):
        RawTFRunner(cfg, 8, layers, variant="tf.function+XLA")


@needs_tf
@pytest.mark.parametrize("which", ["raw", "keras"])
def test_tflite_export_predicts_what_the_trained_model_predicts(which, digits, tmp_path):
    from labs.torch_vs_tf.exports import tflite_runner
    from labs.torch_vs_tf.keras_side import KerasTFRunner
    from labs.torch_vs_tf.raw_tf_side import RawTFRunner

    cfg = settings.make_config(arch="cnn", epochs=1, batch_size=128)
    layers = weights.init_weights("cnn", 8, cfg.seed)
    runner = (RawTFRunner if which == "raw" else KerasTFRunner)(cfg, 8, layers)
    _train(runner, digits, cfg)
    path = runner.export(tmp_path)["TFLite"]
    lite = tflite_runner(path)
    for rows in (1, 9):  # the interpreter resizes its input for each batch size
        diff = np.abs(lite(digits.x_test[:rows]) - runner.logits(digits.x_test[:rows])).max()
        assert diff < report.EXPORT_TOLERANCE
    assert path.stat().st_size > 4 * weights.count_params(layers)  # float32 weights are inside


def test_export_table_flags_a_mismatch():
    rows = [{"framework": "X", "files": [
        {"format": "ONNX (onnxruntime)", "bytes": 2048, "load_s": 0.01, "max_diff": 1e-6,
         "latency_1_ms": 0.01, "framework_latency_1_ms": 0.1},
        {"format": "TFLite", "bytes": 1024, "load_s": 0.01, "max_diff": 0.5,
         "latency_1_ms": 0.01, "framework_latency_1_ms": 0.1}]}]
    frame = report.export_frame(rows)
    assert frame["equal (≤ 1e-4)"].tolist() == [True, False]
    assert frame.columns.tolist() == report.EXPORT_COLUMNS


# -- the sweep -----------------------------------------------------------------------------------------

def test_sweep_grid_is_checked_and_bounded_on_a_shared_server():
    assert sweep.check_grid("64, 8, 8", "1 32", 5, shared=False) == ((8, 64), (1, 32), 5)
    for widths, batches, steps, message in [
        ("", "8", 5, "at least one"), ("a", "8", 5, "not a whole number"),
        ("9000", "8", 5, "between 1 and 2048"), ("8", "8", 0, "Steps must be between"),
        (",".join(map(str, range(1, 7))), ",".join(map(str, range(1, 6))), 5, "limit is 25")]:
        with pytest.raises(sweep.SweepError, match=message):
            sweep.check_grid(widths, batches, steps, shared=False)
    with pytest.raises(sweep.SweepError, match="on this shared server is 9"):
        sweep.check_grid("8,16,32,64", "8,16,32", 5, shared=True)
    with pytest.raises(sweep.SweepError, match="MFLOP per step; on this shared server"):
        sweep.check_grid("2048", "4096", 5, shared=True)
    # The work per step: an MLP 64-W-W-10, forward 2*in*out per row per layer, training ~3x that.
    assert sweep.step_flops(64, (128, 64), 10, 32) == 3 * 2 * 32 * (64 * 128 + 128 * 64 + 64 * 10)


def test_sweep_tables_and_ratios_from_points():
    points = [{"framework": "PyTorch", "width": 8, "batch": 4, "step_ms": 0.5, "mflop_per_step": 0.1},
              {"framework": "PyTorch", "width": 512, "batch": 512, "step_ms": 20.0, "mflop_per_step": 1000.0},
              {"framework": "TF", "width": 8, "batch": 4, "step_ms": 5.0, "mflop_per_step": 0.1},
              {"framework": "TF", "width": 512, "batch": 512, "step_ms": 22.0, "mflop_per_step": 1000.0}]
    frame = sweep.sweep_frame(points)
    assert frame["x PyTorch eager"].tolist() == [1.0, 1.0, 10.0, 1.1]
    plot = sweep.plot_frame(points)
    assert plot["log10 MFLOP per step"].tolist() == [-1.0, -1.0, 3.0, 3.0]
    assert "10.0x PyTorch's step time at 0.1 MFLOP" in sweep.crossover_note(points)


def test_sweep_runs_a_tiny_grid_in_the_shared_workers():
    frameworks = ["torch", "tf-raw"] if HAS_TF else ["torch"]
    points = list(runs.sweep((8, 32), (4,), 2, frameworks=frameworks))
    assert [(p["key"], p["width"], p["batch"]) for p in points] == [
        (fw, w, 4) for fw in frameworks for w in (8, 32)]
    assert all(p["step_ms"] > 0 for p in points)
    table = sweep.sweep_frame(points)
    assert len(table) == len(points) and set(table["x PyTorch eager"][table["framework"] == "PyTorch"]) == {1.0}
    assert len(sweep.plot_frame(points)) == len(points)


def test_sweep_stops_at_the_shared_budget(shared_mode, monkeypatch):
    import time

    from shared import serving

    monkeypatch.setattr(runs, "SHARED_BUDGET_S", 0.01)
    real_ready = runs._ready

    def slow_ready(worker, deadline):
        time.sleep(0.02)  # the budget runs out while the worker starts
        return real_ready(worker, deadline)

    monkeypatch.setattr(runs, "_ready", slow_ready)
    with pytest.raises(serving.BudgetExceeded, match="The sweep on this shared server ran past"):
        list(runs.sweep((8,), (4,), 1, frameworks=["torch"]))
