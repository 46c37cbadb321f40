"""Lab 7 · Datasets and distillation: the logic (no gradio). Data loaders and their refusals,
models, and both distillations measured on scikit-learn's real digits."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from labs.dataset_distillation import data, distill, evaluation, experiments, models, uploads  # noqa: E402
from labs.dataset_distillation.data import DataError  # noqa: E402


# --- data: built-in and generated -----------------------------------------------------------------
def test_builtin_digits_are_8x8_images_in_unit_range():
    ds = data.builtin("digits")
    assert ds.X.shape == (1797, 64) and ds.image_shape == (1, 8, 8)
    assert ds.X.min() == 0 and ds.X.max() == 1
    assert ds.n_classes == 10 and ds.counts().min() > 150


def test_builtin_unknown_name_lists_the_choices():
    with pytest.raises(DataError, match="digits, iris, wine"):
        data.builtin("mnist")


@pytest.mark.parametrize("shape", data.SHAPES)
def test_generate_every_shape_is_labelled_and_repeatable(shape):
    a = data.generate(shape, classes=4, per_class=20, noise=0.3, seed=7)
    b = data.generate(shape, classes=4, per_class=20, noise=0.3, seed=7)
    assert len(a.y) == 80 and list(a.counts()) == [20] * 4
    assert np.array_equal(a.X, b.X)
    assert a.is_image == (shape == "drawn digits")
    assert np.isfinite(a.X).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"classes": 1}, "Classes must be between 2 and 10"),
    ({"per_class": 5000}, "Samples per class"),
    ({"noise": 2.0}, "Noise must be between"),
    ({"noise": float("nan")}, "Noise must be between"),
])
def test_generate_refuses_out_of_range_numbers(kwargs, message):
    with pytest.raises(DataError, match=message):
        data.generate("blobs", **kwargs)


@pytest.mark.parametrize("value, message", [(None, "Seed is empty"), ("", "Seed is empty"),
                                            (2.5, "whole number"), (-1, "between 0 and"),
                                            (10**20, "between 0 and"), ("seven", "must be a number")])
def test_number_fields_are_checked_with_a_message(value, message):
    with pytest.raises(DataError, match=message):
        data.number(value, data.SEED_RANGE, "Seed", whole=True)
    assert data.number(7.0, data.SEED_RANGE, "Seed", whole=True) == 7
    assert data.number(0.01, models.LR_RANGE, "Learning rate") == 0.01


def test_drawn_digits_are_learnable():
    ds = data.generate("drawn digits", classes=10, per_class=30, noise=0.2, seed=0)
    view = experiments.build_model(ds, epochs=40)
    assert view.test_accuracy > 0.8


# --- data: CSV uploads ----------------------------------------------------------------------------
def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_template_csv_reads_back_with_classes_in_order(tmp_path):
    ds = uploads.read_csv(write(tmp_path, "t.csv", uploads.template_csv()))
    assert ds.X.shape == (6, 4)
    assert ds.class_names == ["setosa", "versicolor", "virginica"]
    assert ds.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    md, cols, classes = data.preview(ds)
    assert "6 samples" in md and [c[2] for c in classes] == [2, 2, 2]


def test_csv_missing_values_are_dropped_and_counted(tmp_path):
    text = "a,b,label\n1,2,x\n,3,x\n4,NA,y\n5,6,y\n7,8,x\n9,1,y\n"
    ds = uploads.read_csv(write(tmp_path, "m.csv", text))
    assert len(ds.y) == 4
    assert any("dropped 2 of 6 rows" in n for n in ds.notes)
    md, cols, _ = data.preview(ds)
    assert [c[2] for c in cols] == [1, 1]  # missing cells per column, as uploaded
    assert "dropped 2 of 6 rows" in md and "labels read as text" in md


def test_csv_numeric_labels_sort_numerically_and_other_label_column(tmp_path):
    rows = "\n".join(f"{i},{i % 3 * 5}" for i in range(30))
    ds = uploads.read_csv(write(tmp_path, "n.csv", "f,Target\n" + rows + "\n"), label_column="target")
    assert ds.class_names == ["0", "5", "10"]


def test_csv_semicolons_are_detected(tmp_path):
    ds = uploads.read_csv(write(tmp_path, "s.csv", "a;b;label\n1;2;x\n3;4;y\n5;6;x\n7;8;y\n"))
    assert ds.X.shape == (4, 2)


@pytest.mark.parametrize("text, message", [
    ("a,b,c\n1,2,3\n4,5,6\n", "None is called label, labels, target, class, y. Columns found: a, b, c"),
    ("a,label\n1,x\n2,x\n3,x\n", "only one class"),
    ("colour,size,label\nred,1,x\nblue,2,y\n", "not numeric: 'colour'"),
    ("a,b,label\n1,2,x\n3,y\n5,6,x\n", "Ragged rows: the header has 3 columns but line 3 has 2"),
    ("1,2,3\n4,5,6\n", "looks like data, not column names"),
    ("a,label\n1,x\n2,y\n3,y\n", "at least 2 samples"),
    ("a,label\n", "needs a header row and data rows"),
    ("a,a,label\n1,2,x\n", "repeated: a"),
])
def test_bad_csvs_are_refused_with_a_reason(tmp_path, text, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        uploads.read_csv(write(tmp_path, "bad.csv", text))


def test_csv_that_is_really_a_png_or_empty_or_huge(tmp_path, monkeypatch):
    png = tmp_path / "x.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(DataError, match="PNG file, not a CSV"):
        uploads.read_csv(str(png))
    with pytest.raises(DataError, match="empty"):
        uploads.read_csv(write(tmp_path, "e.csv", ""))
    with pytest.raises(DataError, match="No CSV was uploaded"):
        uploads.read_csv(None)
    monkeypatch.setattr(uploads, "MAX_CSV_BYTES", 10)
    with pytest.raises(DataError, match="the limit is"):
        uploads.read_csv(write(tmp_path, "big.csv", uploads.template_csv()))


def test_dataset_csv_export_round_trips(tmp_path):
    ds = data.generate("blobs", classes=3, per_class=10)
    back = uploads.read_csv(data.to_csv(ds, tmp_path / "blobs.csv"))
    assert np.allclose(back.X, ds.X, atol=1e-4)
    assert [back.class_names[i] for i in back.y] == [ds.class_names[i] for i in ds.y]


# --- data: ZIP uploads ----------------------------------------------------------------------------
def png_bytes(value=128):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (10, 10), value).save(buf, format="PNG")
    return buf.getvalue()


def make_zip(tmp_path, members: dict[str, bytes], name="imgs.zip"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        for member, payload in members.items():
            zf.writestr(member, payload)
    return str(path)


def test_template_zip_reads_as_three_classes(tmp_path):
    ds = uploads.read_image_zip(uploads.template_zip(tmp_path / "t.zip"), size=16)
    assert ds.image_shape == (1, 16, 16) and ds.X.shape == (15, 256)
    assert ds.class_names == ["digit_0", "digit_1", "digit_2"]
    assert 0 <= ds.X.min() and ds.X.max() <= 1


def test_zip_with_one_wrapping_folder_and_rgb(tmp_path):
    members = {f"pets/{c}/{i}.png": png_bytes(40 * i) for c in ("cat", "dog") for i in range(3)}
    members["__MACOSX/pets/._cat"] = b"junk"
    ds = uploads.read_image_zip(make_zip(tmp_path, members), size=8, grayscale=False)
    assert ds.class_names == ["cat", "dog"] and ds.image_shape == (3, 8, 8)


@pytest.mark.parametrize("members, message", [
    ({"../evil/a.png": b"x", "ok/b.png": b"x"}, "unsafe path"),
    ({"/abs/a.png": b"x"}, "unsafe path"),
    ({"a/b/c/1.png": b"x", "a/b/d/2.png": b"x", "e/f/g/3.png": b"x"}, "Nested folders are not read"),
    ({"1.png": b"x", "cat/2.png": b"x"}, "inside one folder per class"),
    ({"cat/1.png": b"x", "dog/notes.txt": b"x"}, "Only images are allowed"),
    ({"cat/1.png": b"x", "cat/2.png": b"x"}, "Only one class folder"),
    ({"cat/1.png": b"not an image", "dog/2.png": b"x"}, "not a readable image"),
])
def test_bad_zips_are_refused_and_nothing_is_extracted(tmp_path, members, message):
    path = make_zip(tmp_path, members)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(DataError, match=message):
        uploads.read_image_zip(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert not (tmp_path.parent / "evil").exists()


def test_not_a_zip_is_refused(tmp_path):
    with pytest.raises(DataError, match="not a format this lab reads|ZIP"):
        uploads.read_image_zip(write(tmp_path, "x.zip", "hello"))


# --- split and the "models only know their data" lesson ------------------------------------------
def test_split_is_stratified_and_disjoint():
    ds = data.builtin("iris")
    train, test = data.split(ds, test_fraction=0.2, seed=1)
    assert len(train.y) + len(test.y) == 150
    assert list(test.counts()) == [10, 10, 10]


def test_dropped_class_is_never_predicted():
    ds = data.generate("blobs", classes=4, per_class=60, noise=0.1)
    view = experiments.build_model(ds, drop_class=2, epochs=40)
    assert view.dropped_accuracy == 0.0
    assert view.test_accuracy < 0.8  # a quarter of the test set is a class it cannot output


def test_dropped_region_hurts_only_there():
    ds = data.generate("moons", classes=2, per_class=300, noise=0.1)
    full = experiments.build_model(ds, epochs=60)
    cut = experiments.build_model(ds, drop_region=0.35, epochs=60)
    assert full.test_accuracy > 0.95
    assert cut.dropped_accuracy < full.test_accuracy - 0.1
    assert cut.lesson is not None


def test_region_drop_on_images_says_drop_a_class_instead():
    with pytest.raises(DataError, match="drop a class instead"):
        experiments.build_model(data.builtin("digits"), drop_region=0.5)


# --- models ---------------------------------------------------------------------------------------
def test_mlp_learns_iris_and_saves_as_safetensors(tmp_path):
    ds = data.builtin("iris")
    view = experiments.build_model(ds, epochs=80, folder=tmp_path)
    assert view.test_accuracy >= 0.9
    weights, config = view.files
    assert weights.endswith(".safetensors") and config.endswith(".config.json")
    model, spec = models.load_model(weights, config)
    prep = experiments.prepare(ds)
    scaler = models.Scaler(np.array(spec.scaler_mean, np.float32), np.array(spec.scaler_std, np.float32))
    assert models.accuracy(model, scaler.transform(prep.test.X), prep.test.y) == pytest.approx(view.test_accuracy)


def test_convnet_needs_images_and_ranges_are_checked():
    ds = data.builtin("wine")
    with pytest.raises(ValueError, match="ConvNet needs image data"):
        experiments.build_model(ds, kind="ConvNet")
    with pytest.raises(ValueError, match="Epochs must be between"):
        experiments.build_model(ds, epochs=0)
    with pytest.raises(ValueError, match="Hidden size"):
        experiments.build_model(ds, hidden=100_000)


def test_kd_loss_is_cross_entropy_at_alpha_0_and_zero_for_a_perfect_copy():
    import torch
    import torch.nn.functional as F

    logits = torch.randn(8, 5)
    labels = torch.randint(0, 5, (8,))
    assert torch.isclose(distill.kd_loss(logits, logits * 3, labels, alpha=0.0), F.cross_entropy(logits, labels))
    assert float(distill.kd_loss(logits, logits.clone(), labels, alpha=1.0, temperature=4)) == pytest.approx(0, abs=1e-6)


def test_coresets_pick_k_real_rows_per_class():
    ds = data.generate("blobs", classes=3, per_class=50, noise=0.5)
    for pick in (distill.herding, distill.k_center):
        X, y = pick(ds.X, ds.y, 3, 5)
        assert list(np.bincount(y)) == [5, 5, 5]
        assert all((ds.X == row).all(1).any() for row in X)
    # Herding tracks the class mean better than a random pick of the same size.
    Xh, yh = distill.herding(ds.X, ds.y, 3, 5)
    Xr, yr = distill.random_subset(ds.X, ds.y, 3, 5, seed=0)
    err = lambda X, y: sum(np.linalg.norm(X[y == c].mean(0) - ds.X[ds.y == c].mean(0)) for c in range(3))
    assert err(Xh, yh) < err(Xr, yr)


def test_compare_refuses_bad_settings():
    ds = data.generate("blobs", classes=2, per_class=20)
    prep = experiments.prepare(ds)
    spec = experiments.make_spec(ds, prep.scaler)
    with pytest.raises(ValueError, match="Choose at least one method"):
        evaluation.compare(prep.Xtr, prep.train.y, prep.Xte, prep.test.y, 2, spec, methods=("magic",))
    with pytest.raises(ValueError, match="smallest class has only"):
        evaluation.compare(prep.Xtr, prep.train.y, prep.Xte, prep.test.y, 2, spec, ks=(50,))


def test_missing_package_names_the_install_command(monkeypatch):
    import importlib

    from shared.optional import MissingDependency

    real = importlib.import_module

    def fake(name, *args, **kwargs):
        if name == "safetensors":
            raise ImportError("No module named 'safetensors'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(MissingDependency, match="requirements/dataset_distillation.txt"):
        experiments.build_model(data.generate("blobs"))


# --- the checks on real digits ------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    return data.builtin("digits")


def test_knowledge_distillation_on_digits(digits, capsys):
    view = experiments.run_knowledge_distillation(digits, seeds=3)
    res = view.result
    assert res.teacher_acc >= 0.97, "the ConvNet teacher should pass 97% on digits"
    gain = res.distilled_acc - res.student_acc
    verdict = "beats" if gain > 0.0025 else "matches"
    with capsys.disabled():
        print(f"\nKD on digits: teacher {res.teacher_acc:.3f}, student alone {res.student_acc:.3f}, "
              f"distilled {res.distilled_acc:.3f} -> distilled student {verdict} the student alone")
    assert gain >= -0.0025, f"distilled {res.distilled_acc:.3f} fell behind alone {res.student_acc:.3f}"
    assert res.rows[0][1] > 3 * res.rows[1][1]  # the student really is smaller
    assert view.files[0].endswith(".safetensors")


def test_distribution_matching_beats_random_at_10_per_class(digits, tmp_path):
    view = experiments.run_dataset_distillation(digits, methods=("random", "DM"), ks=(10,), seeds=3, synth_seeds=1,
                                                kind="MLP", cross_arch=False, folder=tmp_path)
    comp = view.comparison
    dm, rnd = comp.best("DM", 10), comp.best("random", 10)
    assert dm > rnd + 0.01, f"DM {dm:.3f} should beat the random subset {rnd:.3f}"
    assert comp.full_mean > 0.94
    names = sorted(p.rsplit("/", 1)[-1] for p in view.files)
    assert names == ["digits_dm_k10.csv", "digits_dm_k10.npz", "digits_dm_k10.png"]
    back = np.load(tmp_path / "digits_dm_k10.npz")
    assert back["X"].shape == (100, 64) and list(np.bincount(back["y"])) == [10] * 10


def test_gradient_matching_runs_and_beats_random_at_1_per_class(digits):
    prep = experiments.prepare(digits)
    spec = experiments.make_spec(digits, prep.scaler)
    with models.one_thread():
        Xs, ys = distill.gradient_matching(prep.Xtr, prep.train.y, 10, 1, spec, outer=10)
        dc = np.mean([evaluation.train_on_set(Xs, ys, prep.Xte, prep.test.y, spec, seed=s) for s in range(2)])
        rnd = np.mean([evaluation.train_on_set(*distill.random_subset(prep.Xtr, prep.train.y, 10, 1, seed=s),
                                            prep.Xte, prep.test.y, spec, seed=s) for s in range(2)])
    assert Xs.shape == (10, 64)
    assert dc > rnd, f"DC {dc:.3f} vs random {rnd:.3f}"
