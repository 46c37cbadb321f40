"""Lab 6 · PyTorch vs TensorFlow: logic units, both frameworks for real, workers, the app's API.

TensorFlow is optional for the lab; tests that need it skip with a reason when it is absent (CI
installs tensorflow-cpu, so they run there).
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from PIL import Image

from labs.torch_vs_tf import data, report, runs, settings, weights
from labs.torch_vs_tf.metrics import loss_and_accuracy, softmax, time_calls

HAS_TF = runs.available("tensorflow")
needs_tf = pytest.mark.skipif(not HAS_TF, reason="tensorflow-cpu/keras not installed "
                              "(pip install -r requirements/torch_vs_tf.txt)")
STATED_ACCURACY = 0.90  # the lab states: both frameworks pass 90 % test accuracy on digits in 5 epochs


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


# -- weights and layouts ---------------------------------------------------------------------------

@pytest.mark.parametrize("arch, side, expected", [("mlp", 8, 17226), ("cnn", 8, 13706), ("cnn", 28, 105866)])
def test_parameter_counts_follow_the_architecture(arch, side, expected):
    assert weights.count_params(weights.init_weights(arch, side, 0)) == expected


def test_layout_conversion_round_trips_and_permutes_flatten_order():
    layers = weights.init_weights("cnn", 8, 1)
    for layer in layers:
        kernel, bias = weights.to_keras(layer)
        back, _ = weights.from_keras(layer.kind, kernel, bias, layer.flatten_from)
        np.testing.assert_array_equal(back, layer.weight)
    dense = layers[2]  # first dense after the conv stack: (64, 32*2*2) in (c, h, w) order
    kernel, _ = weights.to_keras(dense)
    c, h, w = dense.flatten_from
    # Keras row (h=1, w=0, c=5) must be PyTorch column (c=5, h=1, w=0).
    assert kernel[(1 * w + 0) * c + 5, 7] == dense.weight[7, 5 * h * w + 1 * w + 0]


def test_initial_weights_are_glorot_and_seeded():
    a, b = weights.init_weights("mlp", 8, 3), weights.init_weights("mlp", 8, 3)
    np.testing.assert_array_equal(a[0].weight, b[0].weight)
    assert not np.array_equal(a[0].weight, weights.init_weights("mlp", 8, 4)[0].weight)
    limit = math.sqrt(6 / (64 + 128))
    assert np.abs(a[0].weight).max() <= limit and np.abs(a[0].weight).max() > 0.9 * limit
    assert not a[0].bias.any()


# -- data -------------------------------------------------------------------------------------------

def test_digits_split_is_fixed_and_scaled(digits):
    assert digits.x_train.shape == (1438, 64) and digits.x_test.shape == (359, 64)
    assert digits.x_train.dtype == np.float32 and 0 <= digits.x_train.min() and digits.x_train.max() <= 1
    np.testing.assert_array_equal(data.load_digits().y_test, digits.y_test)


def test_batch_order_covers_every_row_once_per_epoch_and_is_seeded():
    epochs = data.batch_order(100, 32, 3, seed=7)
    assert len(epochs) == 3 and [len(b) for b in epochs[0]] == [32, 32, 32, 4]
    for batches in epochs:
        assert sorted(np.concatenate(batches).tolist()) == list(range(100))
    assert not np.array_equal(epochs[0][0], epochs[1][0])
    np.testing.assert_array_equal(data.batch_order(100, 32, 3, seed=7)[2][1], epochs[2][1])


def _npz(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_upload_accepts_images_of_any_range_and_layout(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(200, 12, 12), dtype=np.uint8)
    y = rng.integers(0, 10, size=200)
    ds = data.load_upload(_npz(tmp_path, x=x, y=y))
    assert ds.side == 12 and ds.x_train.shape[1] == 144 and len(ds.x_train) + len(ds.x_test) == 200
    assert ds.x_train.max() <= 1.0 and ds.x_train.dtype == np.float32


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((100, 8, 9)), "y": np.zeros(100)}, "square"),
    ({"x": np.zeros((100, 63)), "y": np.zeros(100)}, "not a square number"),
    ({"x": np.zeros((10, 64)), "y": np.zeros(10)}, "accepts 50"),
    ({"x": np.ones((100, 64)), "y": np.zeros(99)}, "one label per image"),
    ({"x": np.ones((100, 64)), "y": np.arange(100) % 12}, "must be 0..9"),
    ({"x": np.ones((100, 64)), "y": np.zeros(100)}, "at least two classes"),
    ({"x": np.ones((100, 64)), "y": (np.arange(100) % 10) + 0.5}, "non-integer"),
    ({"x": np.full((100, 64), np.nan), "y": np.arange(100) % 10}, "NaN"),
    ({"x": -np.ones((100, 64)), "y": np.arange(100) % 10}, "negative"),
    ({"x": np.ones((100, 40, 40)), "y": np.arange(100) % 10}, "28x28"),
    ({"images": np.ones((100, 64))}, "needs 'x'"),
    ({"x": np.array(["a"] * 100), "y": np.arange(100) % 10}, "dtype"),
])
def test_bad_uploads_say_what_is_wrong(tmp_path, arrays, message):
    with pytest.raises(data.DataError, match=message):
        data.load_upload(_npz(tmp_path, **arrays))


def test_pickled_objects_and_non_npz_files_are_refused(tmp_path):
    objects = np.empty(100, dtype=object)
    with pytest.raises(data.DataError, match="Python objects"):
        data.load_upload(_npz(tmp_path, x=objects, y=np.arange(100) % 10))
    png = tmp_path / "fake.npz"
    Image.new("L", (8, 8)).save(png, format="PNG")
    with pytest.raises(data.UploadError, match="PNG"):
        data.load_upload(str(png))
    with pytest.raises(data.DataError, match="no .npz"):
        data.choose_dataset("upload", None)


def test_npz_that_decompresses_beyond_the_limit_is_refused_before_loading(tmp_path, monkeypatch):
    import zipfile

    # 2,000 x 8 x 8 float64 zeros: 1 MB of arrays in a few KB of .npz (a small "zip bomb").
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, x=np.zeros((2000, 8, 8)), y=np.arange(2000) % 10)
    assert bomb.stat().st_size < 20_000
    monkeypatch.setattr(data, "MAX_X_BYTES", 100_000)
    loaded = []
    monkeypatch.setattr(data.np, "load", lambda *a, **k: loaded.append(a) or pytest.fail("loaded"))
    too_big = r"array 'x' would take 1\.0 MB once decompressed.*at most 0\.1 MB"
    with pytest.raises(data.DataError, match=too_big):
        data.load_upload(str(bomb))
    # A member whose header declares a huge shape is refused from the header alone.
    liar = tmp_path / "liar.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((10, 8, 8)))
    header["shape"] = (10**9, 8, 8)
    with zipfile.ZipFile(liar, "w") as archive:
        with archive.open("x.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            fh.write(np.zeros(640).tobytes())
        with archive.open("y.npy", "w") as fh:
            np.lib.format.write_array(fh, np.arange(10) % 10)
    with pytest.raises(data.DataError, match="array 'x' would take 512,000.0 MB"):
        data.load_upload(str(liar))
    assert not loaded


def test_drawings_become_digit_like_inputs():
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))  # a transparent sketchpad layer
    from PIL import ImageDraw

    ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=(0, 0, 0, 255), width=20)  # a "1"
    x = data.image_to_input(canvas, 8)
    grid = x.reshape(8, 8)
    assert x.shape == (1, 64) and grid.max() == pytest.approx(1.0)
    assert grid[:, 3:5].sum() > 4 * grid[:, [0, 7]].sum()  # ink in the middle columns only
    with pytest.raises(data.DataError, match="blank"):
        data.image_to_input(Image.new("RGB", (50, 50), "white"), 8)


def test_digits_of_the_set_survive_the_round_trip_through_an_image():
    from sklearn.datasets import load_digits

    digits = load_digits()
    errors = []
    for img in digits.images[:40] / 16:
        picture = Image.fromarray((255 - img * 255).astype(np.uint8)).resize((80, 80), Image.Resampling.NEAREST)
        back = data.image_to_input(picture, 8).reshape(8, 8)
        errors.append(np.abs(back - img / img.max()).mean())
    assert np.mean(errors) < 0.1  # framed like the set: the digit spans the full height


# -- settings ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "Epochs must be between 1 and 30"),
    ({"epochs": 1000}, "Epochs"),
    ({"epochs": 2.5}, "whole number"),
    ({"batch_size": 0}, "Batch size"),
    ({"lr": float("nan")}, "finite"),
    ({"lr": 10}, "Learning rate must be between"),
    ({"lr": "fast"}, "must be a number"),
    ({"arch": "rnn"}, "mlp, cnn"),
    ({"optimizer": "lbfgs"}, "adam, sgd"),
    ({"epochs": 30, "batch_size": 1, "train_size": 20_000}, "steps"),
])
def test_absurd_settings_are_refused_with_the_range(kwargs, message):
    with pytest.raises(settings.SettingsError, match=message):
        settings.make_config(**kwargs)


# -- metrics, timing, report --------------------------------------------------------------------------

def test_race_options_are_checked():
    cfg = settings.make_config(epochs=3)
    assert settings.check_race(cfg, 64, ["tf.function"], have_compiler=False) == (64, {"tf.function"})
    with pytest.raises(settings.SettingsError, match="at least 2 epochs"):
        settings.check_race(settings.make_config(epochs=1), 64, [], have_compiler=True)
    with pytest.raises(settings.SettingsError, match="C\\+\\+ compiler"):
        settings.check_race(cfg, 64, ["torch.compile"], have_compiler=False)
    with pytest.raises(settings.SettingsError, match="Unknown variants"):
        settings.check_race(cfg, 64, ["jax.jit"], have_compiler=True)
    with pytest.raises(settings.SettingsError, match="Batch N"):
        settings.check_race(cfg, 0, [], have_compiler=True)
    with pytest.raises(settings.SettingsError, match="Threads"):
        settings.check_threads(3, 2)
    assert runs.race_plan(["torch", "tensorflow"], {"tf.function+XLA"}) == {
        "torch": ("eager",), "tensorflow": ("eager", "tf.function+XLA", "model.fit")}


def test_metrics_and_timer():
    logits = np.array([[2.0, 0.0], [0.0, 3.0]])
    loss, acc = loss_and_accuracy(logits, np.array([0, 0]))
    assert acc == 0.5 and loss == pytest.approx((np.log1p(np.exp(-2)) + np.log1p(np.exp(3))) / 2)
    np.testing.assert_allclose(softmax(logits).sum(axis=1), 1.0)
    calls = []
    assert time_calls(lambda: calls.append(1), warmup=3, repeats=5) >= 0 and len(calls) == 8


def test_race_ratios_are_against_pytorch_eager_of_the_same_race():
    row = dict(params=10, first_epoch_s=1.0, latency_n_ms=1.0, test_acc=0.9, base_rss_mb=1, peak_rss_mb=2)
    frame = report.race_frame([
        {**row, "framework": "PyTorch", "variant": "eager", "epoch_s": 0.02, "latency_1_ms": 0.1},
        {**row, "framework": "TensorFlow", "variant": "tf.function", "epoch_s": 0.05, "latency_1_ms": 0.4},
    ])
    assert frame["x PyTorch eager (epoch)"].tolist() == [1.0, 2.5]
    assert frame["x PyTorch eager (batch 1)"].tolist() == [1.0, 4.0]


def test_train_report_checks_parameter_counts_and_flags_divergence():
    rep = report.TrainReport(total_epochs=1)
    for name, params in (("PyTorch", 10), ("TensorFlow", 10)):
        rep.add({"event": "started", "key": name, "framework": name, "variant": "eager", "params": params,
                 "test_acc": 0.1, "import_s": 1.0, "base_rss_mb": 100.0})
    rep.add({"event": "epoch", "key": "PyTorch", "framework": "PyTorch", "epoch": 1, "train_loss": 0.5,
             "seconds": 0.1, "test_acc": 0.9, "peak_rss_mb": 200.0})
    rep.add({"event": "epoch", "key": "TensorFlow", "framework": "TensorFlow", "epoch": 1,
             "train_loss": float("nan"), "seconds": 0.1, "test_acc": 0.1, "peak_rss_mb": 200.0})
    assert "Parameter counts are equal: 10" in rep.status()
    assert "TensorFlow diverged" in rep.status()
    assert rep.loss_frame()["framework"].tolist() == ["PyTorch"]  # the NaN point is not plotted
    assert rep.accuracy_frame()["epoch"].tolist() == [0, 0, 1, 1]
    rep.started["TensorFlow"]["params"] = 11
    assert "differ" in rep.params_check()


# -- PyTorch for real ---------------------------------------------------------------------------------

def _train(runner, ds, cfg):
    batches = data.batch_order(len(ds.x_train), cfg.batch_size, cfg.epochs, cfg.seed)
    return [runner.train_epoch(ds.x_train, ds.y_train, b)[0] for b in batches]


def test_pytorch_reaches_the_stated_accuracy_and_exports(digits, tmp_path):
    import torch

    from labs.torch_vs_tf.torch_side import TorchRunner, load_torch_export

    torch.set_num_threads(1)
    cfg = settings.make_config(arch="mlp", epochs=5)
    runner = TorchRunner(cfg, 8, weights.init_weights("mlp", 8, cfg.seed))
    losses = _train(runner, digits, cfg)
    assert losses[-1] < losses[0] / 3
    assert runner.evaluate(digits.x_test, digits.y_test)[1] >= STATED_ACCURACY
    files = runner.export(tmp_path, digits.x_test[:1])
    module = load_torch_export(files["torch.export (.pt2)"])
    np.testing.assert_allclose(module(torch.from_numpy(digits.x_test[:5])).detach().numpy(),
                               runner.logits(digits.x_test[:5]), atol=1e-5)
    # ONNX, run by onnxruntime on a batch size it was not traced with: the same logits.
    from labs.torch_vs_tf.exports import onnx_runner

    onnx = onnx_runner(files["ONNX (onnxruntime)"])
    assert np.abs(onnx(digits.x_test[:7]) - runner.logits(digits.x_test[:7])).max() < 1e-4


@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("c++")), reason="torch.compile on CPU needs a C++ compiler")
def test_torch_compile_learns_exactly_what_eager_learns(digits):
    import torch

    from labs.torch_vs_tf.torch_side import TorchRunner

    torch.set_num_threads(1)
    cfg = settings.make_config(arch="mlp", epochs=1, batch_size=256)
    layers = weights.init_weights("mlp", 8, cfg.seed)
    eager, compiled = TorchRunner(cfg, 8, layers), TorchRunner(cfg, 8, layers, compiled=True)
    assert compiled.variant == "torch.compile"
    np.testing.assert_allclose(_train(compiled, digits, cfg), _train(eager, digits, cfg), rtol=1e-4)


# -- TensorFlow for real ------------------------------------------------------------------------------

@needs_tf
@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_same_weights_give_the_same_outputs_in_both_frameworks(arch, digits):
    from labs.torch_vs_tf.keras_side import KerasTFRunner
    from labs.torch_vs_tf.torch_side import TorchRunner

    cfg = settings.make_config(arch=arch)
    layers = weights.init_weights(arch, 8, cfg.seed)
    torch_out = TorchRunner(cfg, 8, layers).logits(digits.x_test)
    keras = KerasTFRunner(cfg, 8, layers)
    assert keras.params == weights.count_params(layers)
    np.testing.assert_allclose(keras.logits(digits.x_test), torch_out, atol=1e-5)


@needs_tf
def test_both_frameworks_learn_the_same_curve_and_reach_the_stated_accuracy(digits):
    import torch

    from labs.torch_vs_tf.keras_side import KerasTFRunner
    from labs.torch_vs_tf.torch_side import TorchRunner

    torch.set_num_threads(1)
    cfg = settings.make_config(arch="mlp", epochs=5)
    layers = weights.init_weights("mlp", 8, cfg.seed)
    runners = [TorchRunner(cfg, 8, layers), KerasTFRunner(cfg, 8, layers, variant="tf.function")]
    curves = [_train(r, digits, cfg) for r in runners]
    np.testing.assert_allclose(curves[0], curves[1], rtol=0.02)  # same maths, float-order noise only
    for runner in runners:
        assert runner.evaluate(digits.x_test, digits.y_test)[1] >= STATED_ACCURACY, runner.framework


# -- worker processes -------------------------------------------------------------------------------

def _worker_pids() -> set[int]:
    psutil = pytest.importorskip("psutil")
    return {p.pid for p in psutil.Process().children(recursive=True)
            if "labs.torch_vs_tf.worker" in " ".join(p.cmdline())}


def test_one_shared_worker_serves_two_runs_and_cancelling_drops_only_that_run(digits):
    cfg = settings.make_config(epochs=2)
    done = [list(runs.train_side_by_side(digits, cfg, frameworks=["torch"]))[-1]["run_id"] for _ in range(2)]
    worker = runs._POOL["torch"]
    assert len({p for p in _worker_pids() if p == worker.proc.pid}) == 1
    assert all(runs.get_run(r).workers["torch"] is worker for r in done)  # one process, two runs
    x = digits.x_test[:1]
    for run_id in done:
        assert runs.predict(run_id, x)["PyTorch"].shape == (1, 10)
    gen = runs.train_side_by_side(digits, cfg, frameworks=["torch"])
    first = next(gen)
    assert first["event"] == "started" and first["params"] == 17226 and first["reused"]
    assert first["test_acc"] < 0.3  # untrained
    gen.close()  # what gradio does when Stop is clicked: the run's models are dropped, the worker stays
    assert worker.alive() and worker.call("drop", run="nothing")["models"] >= 2
    for run_id in done:
        runs.release(run_id)
    assert worker.call("drop", run="nothing")["models"] == sum(
        1 for k in runs._DEFAULT_HOLDERS if runs._DEFAULT_HOLDERS[k] is worker)


def test_torch_only_when_tensorflow_is_missing(monkeypatch):
    from labs.torch_vs_tf import app

    monkeypatch.setattr(runs, "missing", lambda names: [n for n in names if n in ("tensorflow", "keras")])
    chosen, notes = runs.choose_frameworks(True)
    assert chosen == ["torch"]
    assert any("tensorflow" in n and "requirements/torch_vs_tf.txt" in n for n in notes)
    assert "TensorFlow is not installed" in app.environment_note()


class _FakeWorker:
    """Stands in for a shared worker in the bookkeeping tests: answers 'predict' with a fixed digit
    and records the runs it was told to drop."""

    def __init__(self, digit: int = 4):
        self.digit, self.closed, self.dropped = digit, False, []

    def alive(self) -> bool:
        return not self.closed

    def close(self) -> None:
        self.closed = True

    def call(self, cmd, timeout=None, **args):
        if cmd == "drop":
            self.dropped.append(args["run"])
            return {"dropped": 1}
        assert cmd == "predict"
        return {"probs": np.eye(10)[[self.digit]].tolist()}


def _fake_run(tmp_path, run_id: str, side: int = 8) -> runs.Run:
    folder = tmp_path / run_id
    folder.mkdir()
    return runs.Run(run_id, folder, side, {"torch": _FakeWorker()})


@pytest.fixture
def empty_runs(monkeypatch):
    import collections

    monkeypatch.setattr(runs, "_RUNS", collections.OrderedDict())
    monkeypatch.setattr(runs, "_RELEASED_FOR_ROOM", collections.OrderedDict())


def test_a_run_released_for_another_users_run_says_so(tmp_path, empty_runs, monkeypatch):
    shared = _FakeWorker()  # one worker holds every run's model
    mine, theirs, *others, newest = (_fake_run(tmp_path, name)
                                     for name in ("mine", "theirs", "b", "c", "newest"))
    for run in (mine, theirs, *others, newest):
        run.workers["torch"] = shared
        runs._keep(run)
    assert runs.MAX_LIVE_RUNS == 4 and runs.get_run("mine") is None
    assert shared.dropped == ["mine"] and not shared.closed and not mine.folder.exists()
    assert runs.why_not_loaded("theirs") is None
    x = np.zeros((1, 64), np.float32)
    with pytest.raises(ValueError, match="released to make room for newer training runs.*all users"):
        runs.predict("mine", x)
    assert runs.input_side("mine") == runs.DEFAULT_SIDE

    runs.release("newest")  # a session that trains again frees its own run: not "released for room"
    assert "released to make room" not in runs.why_not_loaded("newest")
    assert shared.dropped == ["mine", "newest"]

    # Predicting after the release does not retrain: the shared default MLP answers, and says why.
    def fake_default(deadline=None):
        yield "torch", _FakeWorker(digit=7)

    monkeypatch.setattr(runs, "warm_default", fake_default)
    *_, (probs, run_id, note, pending) = runs.predict_digit(x, "mine")
    assert run_id == "mine" and "released to make room" in note and "default MLP" in note
    labels, seen, verdict = report.prediction_view(probs, x, list(runs.LABELS.values()), note, pending)
    assert labels[0]["7"] == 1.0 and labels[1:] == [None, None, None]
    assert seen.shape == (160, 160) and "released to make room" in verdict
    if HAS_TF:  # the fake default had PyTorch only: the others are still to come
        assert "PyTorch says **7**" in verdict and "Still starting: TensorFlow" in verdict
    else:
        assert "agree: **7**" in verdict
    # Models that are loaded answer directly, without a note.
    *_, (probs, run_id, note, pending) = runs.predict_digit(x, "theirs")
    assert run_id == "theirs" and note == "" and pending == [] and probs["PyTorch"].argmax() == 4

    # A run whose worker exited (idle, or stopped) is told apart; so is a session that never trained.
    shared.close()
    assert "worker process exited" in runs.why_not_loaded("theirs")
    assert "No models have been trained" in runs.why_not_loaded(None)


# -- the app through its API ------------------------------------------------------------------------

SETTINGS = ("digits", None, "mlp", 2, 32, 0.003, "adam", 42)


def test_app_end_to_end_through_gradio_client(client_for, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from labs.torch_vs_tf import app

    client = client_for(app.demo)
    # gr.State outputs stay on the server: the client gets the four visible outputs.
    loss, acc, summary, status = client.predict(*SETTINGS, "eager", 1, HAS_TF,
                                                   api_name="/torch_vs_tf_train")
    frameworks = {row[0] for row in summary["data"]}
    assert frameworks == (set(runs.LABELS.values()) if HAS_TF else {"PyTorch"})
    assert {row[2] for row in summary["data"]} == {17226}  # parameter counts equal
    assert "Parameter counts are equal" in status
    assert all(row[5] > 0.8 for row in summary["data"])  # 2 epochs at lr 3e-3
    assert len(acc["data"]) == 3 * len(frameworks)  # epochs 0, 1, 2

    *labels, seen, verdict = client.predict(handle_file(str(app.EXAMPLES / "digit_7.png")),
                                               api_name="/torch_vs_tf_predict_image")
    assert [lab["label"] for lab in labels if lab] == ["7"] * len(frameworks)
    assert "agree" in verdict

    race_table, export_table, files, text = client.predict(
        *SETTINGS, 1, False, [], 64, True, api_name="/torch_vs_tf_race")
    variants = [(r[0], r[1]) for r in race_table["data"]]
    assert ("PyTorch", "eager") in variants
    if HAS_TF:
        assert {("TensorFlow · raw tf.nn", "eager"), ("TensorFlow · Keras layers", "eager"),
                ("Keras 3 on TensorFlow", "model.fit")} <= set(variants)
    assert all(r[3] > 0 and r[5] > 0 for r in race_table["data"])  # epoch time and latency measured
    assert {r[1] for r in export_table["data"]} >= {"torch.export (.pt2)", "ONNX (onnxruntime)"}
    if HAS_TF:
        assert [r[0] for r in export_table["data"] if r[1] == "TFLite"] == [
            "TensorFlow · Keras layers", "TensorFlow · raw tf.nn"]
    assert all(r[4] < 1e-4 and r[5] for r in export_table["data"])  # loaded models predict the same
    assert all(r[6] > 0 and r[7] > 0 for r in export_table["data"])  # runtime and framework latency
    assert files and "Fastest epoch" in text

    plot, table, note = client.predict("8, 32", "4", 1, api_name="/torch_vs_tf_sweep")
    assert {row[0] for row in table["data"]} == ({"PyTorch", "TensorFlow · raw tf.nn", "TensorFlow · Keras layers"}
                                                 if HAS_TF else {"PyTorch"})
    assert len(plot["data"]) == len(table["data"]) and "dispatch overhead" in note

    bad = [
        (("8", "8", 0), "/torch_vs_tf_sweep", "Steps must be between"),
        (("x" * 1000, "8", 2), "/torch_vs_tf_sweep", "not a whole number"),
        ((*SETTINGS[:3], 1000, *SETTINGS[4:], "eager", 1, False), "/torch_vs_tf_train", "Epochs"),
        ((*SETTINGS[:5], 0, *SETTINGS[6:], "eager", 1, False), "/torch_vs_tf_train", "Learning rate must be between"),
        (("upload", None, *SETTINGS[2:], "eager", 1, False), "/torch_vs_tf_train", "no .npz"),
        ((*SETTINGS[:3], 1, *SETTINGS[4:], 1, False, [], 64, False), "/torch_vs_tf_race", "at least 2"),
        ((*SETTINGS, 99, False, [], 64, False), "/torch_vs_tf_race", "greater than maximum"),
        ((None,), "/torch_vs_tf_predict_image", "No image"),
    ]
    for args, api, message in bad:
        with pytest.raises(AppError, match=message):
            client.predict(*args, api_name=api)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(AppError, match="not a readable .npz"):
        client.predict("upload", handle_file(str(junk)), *SETTINGS[2:], "eager", 1, False,
                       api_name="/torch_vs_tf_train")
