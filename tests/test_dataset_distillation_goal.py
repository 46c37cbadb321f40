"""Lab 7 · dataset distillation: the goal (k = 10 within 3 points of full data) computed for real,
synthesis seeds, the cross-architecture check, the DC budget, and the class column found by name."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from labs.dataset_distillation import data, distill, evaluation, experiments, models, uploads  # noqa: E402
from labs.dataset_distillation.data import DataError  # noqa: E402


@pytest.fixture(scope="module")
def run():
    """The default path (ConvNet, DM, k = 10, cross-check on) on real digits with a reduced budget."""
    return experiments.run_dataset_distillation(data.builtin("digits"), methods=("random", "DM"), ks=(10,), seeds=2,
                                                synth_seeds=2, dm_iterations=100)


def test_default_path_reports_the_gap_against_full_data_of_the_same_run(run):
    comp = run.comparison
    assert comp.kind == experiments.DD_KIND == "ConvNet"
    dm = comp.row("DM", 10)
    assert 0.5 < dm["mean"] <= 1 and 0.9 < comp.full_mean <= 1  # measured, in this run
    gap = 100 * (comp.full_mean - dm["mean"])
    assert len(run.goal) == 1 and run.goal[0].startswith(f"DM k=10: {100 * dm['mean']:.1f} % vs full data "
                                                         f"{100 * comp.full_mean:.1f} %, gap {gap:.1f} points")
    assert run.goal[0].endswith(": met" if gap <= evaluation.GOAL_POINTS else ": not met")
    assert run.goal[0] in run.markdown and "best is" in run.markdown


def test_learned_sets_come_from_several_synthesis_seeds_with_mean_and_std(run):
    dm = run.comparison.row("DM", 10)
    assert len(dm["synth_means"]) == 2 and len(dm["accs"]) == 2 * 2
    assert dm["mean"] == pytest.approx(np.mean(dm["accs"])) and dm["std"] == pytest.approx(np.std(dm["accs"]))
    assert "over 2 synthesis seed(s)" in run.markdown


def test_cross_architecture_result_is_present(run):
    comp = run.comparison
    assert comp.cross_kind == "MLP" and 0.8 < comp.cross_full_mean <= 1
    cross = {(r["method"], r["k"]): r for r in comp.cross}
    assert 0.3 < cross[("DM", 10)]["mean"] <= 1
    assert "Cross-architecture check" in run.markdown and "| ConvNet | MLP |" in run.markdown


def test_train_many_matches_models_trained_one_by_one():
    ds = data.builtin("iris")
    prep = experiments.prepare(ds)
    spec = experiments.make_spec(ds, prep.scaler, hidden=16)
    Xs, ys = distill.random_subset(prep.Xtr, prep.train.y, 3, 5)
    together = evaluation.train_many(spec, Xs, ys, prep.Xte, prep.test.y, init_seeds=[1, 2], epochs=50).accs
    alone = [evaluation.train_many(spec, Xs, ys, prep.Xte, prep.test.y, init_seeds=[s], epochs=50).accs[0]
             for s in (1, 2)]
    assert together == pytest.approx(alone, abs=1e-6)


def test_dc_budget_is_outer_times_inner_and_checked():
    ds = data.generate("blobs", classes=2, per_class=20)
    prep = experiments.prepare(ds)
    spec = experiments.make_spec(ds, prep.scaler, hidden=8)
    seen = []
    with models.one_thread():
        distill.gradient_matching(prep.Xtr, prep.train.y, 2, 1, spec, outer=2, inner=5,
                                  progress=lambda f, d: seen.append(d))
    assert seen[-1].startswith("DC loop 2/2, step 5/5")
    with pytest.raises(ValueError, match="DC loops must be"):
        distill.gradient_matching(prep.Xtr, prep.train.y, 2, 1, spec, outer=1, inner=1000)


# --- the class column of an uploaded table ---------------------------------------------------------
def _csv(tmp_path, label):
    rows = "\n".join(f"{i},{i % 2}" for i in range(20))
    path = tmp_path / "t.csv"
    path.write_text(f"f,{label}\n{rows}\n")
    return str(path)


@pytest.mark.parametrize("name", ["target", "y", "Class", "label"])
def test_common_class_column_names_are_accepted(tmp_path, name):
    ds = uploads.read_csv(_csv(tmp_path, name))
    assert ds.class_names == ["0", "1"] and ds.feature_names == ["f"]
    assert uploads.csv_columns(_csv(tmp_path, name)) == (["f", name], name)


def test_unknown_class_column_asks_for_the_users_pick(tmp_path):
    path = _csv(tmp_path, "species")
    with pytest.raises(DataError, match="Which column holds the classes.*Columns found: f, species.*Pick yours"):
        uploads.read_csv(path)
    assert uploads.csv_columns(path) == (["f", "species"], uploads.AUTO)
    assert uploads.read_csv(path, label_column="species").n_classes == 2
    with pytest.raises(DataError, match="No label column called 'kind'"):
        uploads.read_csv(path, label_column="kind")
