"""Lab 7 · Datasets and distillation: the app builds alone and answers through gradio_client."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

SLUG = "dataset_distillation"
ROOT = Path(__file__).resolve().parents[1]


def browser_steps():
    spec = importlib.util.spec_from_file_location(f"browser_{SLUG}", ROOT / "tests" / "browser" / f"{SLUG}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def app():
    import labs.dataset_distillation.app as app

    return app


def test_app_builds_alone_with_slug_api_names(app):
    import gradio as gr

    assert isinstance(app.demo, gr.Blocks)
    names = [d.get("api_name") for d in app.demo.config["dependencies"] if d.get("api_name")]
    assert names and all(n.startswith(SLUG) for n in names), names
    assert {f"{SLUG}_{v}" for v in ("builtin", "generate", "read_csv", "read_zip", "train", "knowledge",
                                    "condense")} <= set(names)


def test_load_train_and_distil_through_the_api(app, client_for):
    """A participant's path: load iris, train, drop a class, run both distillations (small settings)."""
    client = client_for(app.demo)
    browser_steps().api_smoke(client)
    # The state survives between calls of one session: step 2 uses the iris loaded above.
    md, curves, cm, lesson, files = client.predict("MLP", 32, 2, 40, 0.003, 0.25, 0, "1: versicolor", 0,
                                                   api_name=f"/{SLUG}_train")
    assert "never saw class 'versicolor'" in md and "**0%**" in md
    assert any(str(f.get("path", f) if isinstance(f, dict) else f).endswith(".safetensors") for f in files)
    md, table, soft, files = client.predict(256, 8, 4, 0.9, 0.5, 1, api_name=f"/{SLUG}_knowledge")
    assert "distilled student" in md and "Teacher" in md
    assert len(table["data"]) == 3


def test_csv_upload_and_bad_inputs_get_clear_errors(app, client_for, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from labs.dataset_distillation import uploads

    client = client_for(app.demo)
    good = tmp_path / "template.csv"
    good.write_text(uploads.template_csv())
    out = client.predict(handle_file(str(good)), "label", api_name=f"/{SLUG}_read_csv")
    assert "6 samples" in out[1] and "3 classes" in out[1]

    # scikit-learn's as_frame tables call the class column 'target': found by name, not refused.
    sk = tmp_path / "sk.csv"
    sk.write_text("a,target\n" + "\n".join(f"{i},{i % 2}" for i in range(10)) + "\n")
    out = client.predict(handle_file(str(sk)), "(auto)", api_name=f"/{SLUG}_read_csv")
    assert "10 samples" in out[1] and "2 classes" in out[1]

    bad = tmp_path / "nolabel.csv"
    bad.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(AppError, match="No label column called 'label'"):
        client.predict(handle_file(str(bad)), "label", api_name=f"/{SLUG}_read_csv")

    evil = tmp_path / "evil.zip"
    import zipfile

    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../etc/x.png", b"x")
        zf.writestr("cat/1.png", b"x")
    with pytest.raises(AppError, match="unsafe path"):
        client.predict(handle_file(str(evil)), 16, True, api_name=f"/{SLUG}_read_zip")

    # Out-of-range numbers and unknown choices: gradio's own checks answer first, naming the limit.
    with pytest.raises(AppError, match="less than minimum value 2"):
        client.predict("blobs", 1, 100, 0.2, 0, api_name=f"/{SLUG}_generate")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict("cubes", 3, 100, 0.2, 0, api_name=f"/{SLUG}_generate")
    # Steps 2-4 without data fall back to digits; a ConvNet on a table is refused with the reason.
    client.predict("wine", api_name=f"/{SLUG}_builtin")
    with pytest.raises(AppError, match="ConvNet needs image data"):
        client.predict("ConvNet", 32, 2, 5, 0.003, 0.25, 0, "(none)", 0, api_name=f"/{SLUG}_train")
    # An emptied number field arrives as None: a message, not a crash.
    with pytest.raises(AppError, match="Seed is empty"):
        client.predict("MLP", 32, 2, 5, 0.003, 0.25, None, "(none)", 0, api_name=f"/{SLUG}_train")
    with pytest.raises(AppError, match="Learning rate is empty"):
        client.predict("MLP", 32, 2, 5, None, 0.25, 0, "(none)", 0, api_name=f"/{SLUG}_train")
    with pytest.raises(AppError, match="Seed is empty"):
        client.predict("blobs", 3, 100, 0.2, None, api_name=f"/{SLUG}_generate")
    with pytest.raises(AppError, match="at least one method"):
        client.predict([], ["1"], 1, "MLP", 50, 5, api_name=f"/{SLUG}_condense")
    # The server keeps serving after errors: the templates come back and the ZIP template reads.
    templates = client.predict(api_name=f"/{SLUG}_templates")
    paths = [t.get("path", t) if isinstance(t, dict) else t for t in templates]
    zip_path = next(p for p in paths if str(p).endswith(".zip"))
    out = client.predict(handle_file(str(zip_path)), 16, True, api_name=f"/{SLUG}_read_zip")
    assert "15 samples" in out[1] and "class folder names" in out[1]
    out = client.predict("spirals", 3, 50, 0.2, 0, api_name=f"/{SLUG}_generate")
    assert "150 samples" in out[1]
