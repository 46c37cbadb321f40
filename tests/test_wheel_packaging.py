"""Lab 1 · Wheel packaging: names, training, the generated project, real builds, validators, installs."""

from __future__ import annotations

import json
import shutil
import tomllib
import zipfile
from pathlib import Path

import pytest

from labs.wheel_packaging import (building, checks, inspection, licences, naming, pipeline, project, publish,
                                  sourceless, tinymodels, tryout)
from labs.wheel_packaging.package import model as packaged

pytest.importorskip("torch")
pytest.importorskip("build")


# ---------------------------------------------------------------- names, versions, paths

def test_names_are_validated_and_normalised():
    assert naming.validate_name("Tiny.Moons") == ("Tiny.Moons", "tiny-moons", "tiny_moons")
    assert naming.validate_name("  my__pkg-2 ") == ("my__pkg-2", "my-pkg-2", "my_pkg_2")


@pytest.mark.parametrize("name, rule", [
    ("", "empty"),
    ("../evil", "escape the work folder"),
    ("a/b", "escape the work folder"),
    ("-dash", "start and end with a letter or digit"),
    ("tiny moons", "' '"),
    ("café", "'é'"),
    ("3d-model", "not a Python identifier"),
    ("class", "not a Python identifier"),
    ("json", "shadow the standard library"),
    ("x" * 65, "64 or fewer"),
])
def test_bad_names_say_which_rule_is_broken(name, rule):
    with pytest.raises(naming.PackagingInputError, match=rule.replace("(", r"\(")):
        naming.validate_name(name)


def test_versions_follow_pep_440():
    assert naming.validate_version("1.0.0-alpha") == "1.0.0a0"
    assert naming.validate_version(" 2.0.post1 ") == "2.0.post1"
    for bad, rule in [("", "empty"), ("v1.0-final!", "PEP 440"), ("1.0+local", "local"), ("1" * 41, "40 or fewer")]:
        with pytest.raises(naming.PackagingInputError, match=rule):
            naming.validate_version(bad)


def test_spec_rejects_unknown_choices_and_bad_holder():
    with pytest.raises(naming.PackagingInputError, match="MIT, Apache-2.0"):
        naming.validate_spec("tiny", "1.0", "GPL-3.0", "Ada", "moons")
    with pytest.raises(naming.PackagingInputError, match="moons, temperature, sentiment"):
        naming.validate_spec("tiny", "1.0", "MIT", "Ada", "gpt5")
    with pytest.raises(naming.PackagingInputError, match="one line"):
        naming.validate_spec("tiny", "1.0", "MIT", "Ada\nrm -rf /", "moons")


def test_paths_cannot_escape_the_work_folder(tmp_path):
    assert naming.inside(tmp_path, "src", "pkg") == (tmp_path / "src" / "pkg").resolve()
    with pytest.raises(naming.PackagingInputError, match="escape"):
        naming.inside(tmp_path, "..", "outside")
    with pytest.raises(naming.PackagingInputError, match="escape"):
        naming.inside(tmp_path, "/etc/passwd")


# ---------------------------------------------------------------- tiny models

@pytest.fixture(scope="module")
def trained():
    return {kind: tinymodels.train(kind) for kind in tinymodels.MODELS}


def test_models_really_learn(trained):
    assert float(trained["moons"].metrics["train accuracy"].rstrip("%")) >= 95
    assert float(trained["sentiment"].metrics["train accuracy"].rstrip("%")) >= 95
    slope = float(trained["temperature"].metrics["learned"].split()[2])
    assert abs(slope - 1.8) < 0.05
    assert trained["temperature"].config["examples"][0]["output"]["fahrenheit"] == pytest.approx(212, abs=1.5)


@pytest.mark.parametrize("kind", list(tinymodels.MODELS))
def test_pure_python_package_code_matches_torch(trained, kind, tmp_path):
    model = trained[kind]
    tinymodels.save_weights(model, tmp_path, license_expression="MIT")
    tiny = packaged.TinyModel(json.loads((tmp_path / "config.json").read_text()),
                              packaged.read_safetensors((tmp_path / "model.safetensors").read_bytes()))
    for example in model.config["examples"]:
        got, want = tiny.predict(example["input"]), example["output"]
        if "label" in want:
            assert got["label"] == want["label"]
            for label, p in want["probabilities"].items():
                assert got["probabilities"][label] == pytest.approx(p, abs=1e-4)
        else:
            assert got == pytest.approx(want, rel=1e-4)


def test_stdlib_safetensors_reader_agrees_with_the_library(trained, tmp_path):
    from safetensors import safe_open

    tinymodels.save_weights(trained["moons"], tmp_path, license_expression="Apache-2.0")
    ours = packaged.read_safetensors((tmp_path / "model.safetensors").read_bytes())
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        assert f.metadata()["license"] == "Apache-2.0"
        for name in f.keys():
            tensor = f.get_tensor(name)
            assert ours[name][0] == list(tensor.shape)
            assert ours[name][1] == pytest.approx(tensor.flatten().tolist())


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="Pick one of: moons"):
        tinymodels.train("resnet")


# ---------------------------------------------------------------- generated project

def spec_for(license="MIT", model="moons", holder="Ada Lovelace", name="tiny-moons", version="0.1.0"):
    return naming.validate_spec(name, version, license, holder, model)


def test_project_files_and_pep_621_639_metadata(trained):
    holder = 'Ada "Countess" Lovelace \\ Byron'
    proj = project.render_project(spec_for("Apache-2.0", holder=holder), trained["moons"], year=2030)
    for path in ["pyproject.toml", "README.md", "LICENSE", "NOTICE", "src/tiny_moons/__init__.py",
                 "src/tiny_moons/model.py", "src/tiny_moons/cli.py", "src/tiny_moons/weights/model.safetensors",
                 "src/tiny_moons/weights/config.json", "tests/test_predict.py", "examples/app.py",
                 "examples/requirements.txt", ".github/workflows/publish.yml"]:
        assert path in proj.files, path
    assert "src/tiny_moons/_native.py" not in proj.files  # only the native flavour ships it
    meta = tomllib.loads(proj.text("pyproject.toml"))
    assert meta["project"]["license"] == "Apache-2.0"
    assert meta["project"]["license-files"] == ["LICENSE", "NOTICE"]
    assert meta["project"]["authors"] == [{"name": holder}]  # quotes and backslashes survive TOML
    assert meta["project"]["scripts"] == {"tiny-moons-predict": "tiny_moons.cli:main"}
    assert not any(c.startswith("License ::") for c in meta["project"]["classifiers"])
    assert "Copyright 2030" in proj.text("NOTICE")
    assert proj.text("src/tiny_moons/model.py").startswith("# SPDX-License-Identifier: Apache-2.0\n")
    for path, data in proj.files.items():
        if path.endswith(".py"):
            compile(data, path, "exec")  # our generated code is valid Python (compiled, never run here)
    reqs = proj.text("examples/requirements.txt")
    for lib in ["streamlit", "gradio", "transformers", "torch", "huggingface_hub"]:
        assert f"\n{lib}>=" in reqs


def test_mit_project_has_holder_in_licence_and_no_notice(trained, tmp_path):
    proj = project.render_project(spec_for("MIT"), trained["temperature"], year=2031)
    assert "Copyright (c) 2031 Ada Lovelace" in proj.text("LICENSE")
    assert "NOTICE" not in proj.files
    assert tomllib.loads(proj.text("pyproject.toml"))["project"]["license-files"] == ["LICENSE"]
    with zipfile.ZipFile(project.zip_project(proj, tmp_path)) as zf:
        assert "tiny-moons-0.1.0/pyproject.toml" in zf.namelist()


def test_licence_comparison_and_publish_steps():
    table = licences.comparison_markdown()
    assert "Explicit patent grant" in table and "§3" in table and "NOTICE" in table
    assert licences.word_count("MIT") < 200 < 1500 < licences.word_count("Apache-2.0")
    steps = publish.publish_steps(spec_for())
    assert "twine upload -r testpypi dist/*" in steps and "twine upload dist/*" in steps and "id-token: write" in steps
    assert "pip install -i https://test.pypi.org/simple/ --no-deps tiny-moons==0.1.0" in steps
    assert "<" not in steps.replace("<paste", "")  # no placeholder left to fill in
    local = publish.publish_steps(spec_for(), local_url="http://127.0.0.1:4321/")
    assert "pip install -i http://127.0.0.1:4321/simple/ --no-deps tiny-moons==0.1.0" in local


def test_publish_workflow_targets_pypi_by_default(trained):
    yaml = pytest.importorskip("yaml")

    workflow = project.render_project(spec_for(), trained["moons"]).text(".github/workflows/publish.yml")
    assert "pypi.org" not in workflow
    jobs = yaml.safe_load(workflow)["jobs"]
    assert list(jobs) == ["build", "pypi"] and jobs["pypi"]["permissions"] == {"id-token": "write"}
    publish_step = jobs["pypi"]["steps"][-1]
    assert publish_step == {"uses": "pypa/gh-action-pypi-publish@release/v1"}  # no repository-url: PyPI
    assert "repository-url: <TestPyPI's upload URL" in workflow  # the comment saying how to rehearse


# ---------------------------------------------------------------- real builds

@pytest.fixture(scope="module")
def mit_build(trained, tmp_path_factory):
    """One real --no-isolation build (sdist + wheel) of the MIT moons project."""
    work = tmp_path_factory.mktemp("mit")
    proj = project.render_project(spec_for("MIT"), trained["moons"])
    root = project.write_project(proj, work / "project")
    return proj, root, building.run_build(root, work / "dist", isolated=False), work


def test_build_makes_sdist_and_wheel_with_licence_metadata(mit_build):
    _, _, built, _ = mit_build
    assert built.sdist.name == "tiny_moons-0.1.0.tar.gz"
    assert built.wheel.name == "tiny_moons-0.1.0-py3-none-any.whl"
    assert "--no-isolation" in built.command
    report = inspection.inspect_wheel(built.wheel)
    assert report.tags == ["py3-none-any"]
    assert report.meta("Metadata-Version") == ["2.4"]
    assert report.meta("License-Expression") == ["MIT"]
    assert report.meta("License-File") == ["LICENSE"]
    assert report.licenses == ["tiny_moons-0.1.0.dist-info/licenses/LICENSE"]
    assert report.record_ok and len(report.record) == len(report.files)
    assert "tiny_moons/weights/model.safetensors" in [p for p, _, _ in report.files]
    assert "tiny-moons-predict = tiny_moons.cli:main" in report.entry_points


def test_real_validators_pass(mit_build):
    _, _, built, _ = mit_build
    results = checks.run_checks(built.wheel, built.sdist, "tiny_moons")
    assert [r.tool for r in results] == ["twine", "check-wheel-contents"]
    assert all(r.passed for r in results), checks.checks_text(results)
    assert "PASSED" in results[0].output and ": OK" in results[1].output


def test_wheel_installs_in_a_fresh_venv_and_predicts(mit_build, trained):
    _, root, built, work = mit_build
    example = trained["moons"].config["examples"][0]
    result = tryout.install_and_run(built.wheel, work / "try", import_name="tiny_moons", script="tiny-moons-predict",
                                    example=example["input"], cli_args=["0.0", "1.0"], project_dir=root)
    assert result.prediction["prediction"] == example["output"]
    assert result.prediction["version"] == "0.1.0"
    assert "/fresh-venv/" in result.prediction["file"]  # imported from the venv, not from the source tree
    assert "upper moon" in result.cli_output
    assert "Ran 2 tests" in result.log() and "\nOK" in result.log()
    assert "tiny_moons/weights/model.safetensors" in result.installed_files
    # The example app's module level runs against the installed wheel (its UI libraries are not needed
    # until it is launched): it finds the package, its config and the example input.
    program = ("import runpy, sys; ns = runpy.run_path(sys.argv[1], run_name='example_app'); "
               "print(ns['TITLE'], ns['DEFAULT'], ns['parse'](ns['DEFAULT']))")
    out = tryout.run_program(result, "example app", program, str(root / "examples" / "app.py"))
    assert out.startswith("tiny-moons: Two-moons classifier") and "[0.0, 1.0]" in out


def test_tampered_wheel_fails_record_verification(mit_build, tmp_path):
    _, _, built, _ = mit_build
    tampered = tmp_path / built.wheel.name
    with zipfile.ZipFile(built.wheel) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "tiny_moons/model.py":
                data += b"\nprint('injected')\n"
            dst.writestr(info, data)
    report = inspection.inspect_wheel(tampered)
    assert not report.record_ok
    assert [r.status for r in report.record if r.path == "tiny_moons/model.py"] == ["hash mismatch"]


def test_apache_wheel_carries_notice(trained, tmp_path):
    proj = project.render_project(spec_for("Apache-2.0", model="sentiment"), trained["sentiment"])
    built = building.run_build(project.write_project(proj, tmp_path / "p"), tmp_path / "dist", isolated=False,
                               sdist=False)
    report = inspection.inspect_wheel(built.wheel)
    assert report.meta("License-Expression") == ["Apache-2.0"]
    assert report.meta("License-File") == ["LICENSE", "NOTICE"]
    assert built.sdist is None


def test_pipeline_yields_each_step_and_keeps_only_the_downloads():
    seen: list[tuple[float, str]] = []
    steps = list(pipeline.build_and_install(spec_for("Apache-2.0"), progress=lambda f, m: seen.append((f, m))))
    assert [type(s).__name__ for s in steps] == ["Generated", "Built", "Inspected", "Installed"]
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and "python -m build" in seen[1][1]
    generated, built, inspected, installed = steps
    assert "pyproject.toml" in generated.files and Path(generated.zip_download).is_file()
    assert built.log.startswith("$ python -m build --outdir dist --no-isolation .\n# ")
    assert str(built.build.wheel.parent) not in built.log.splitlines()[0]  # the command shows "dist", not scratch
    assert [Path(p).name for p in built.downloads] == [built.build.sdist.name, built.build.wheel.name]
    assert all(Path(p).is_file() for p in built.downloads)  # on the shelf, after the scratch folder went
    assert not built.build.wheel.exists()
    assert inspected.report.record_ok and inspected.report.meta("License-Expression") == ["Apache-2.0"]
    recorded = generated.trained.config["examples"][0]["output"]
    assert installed.result.prediction["prediction"]["label"] == recorded["label"]
    assert installed.example == generated.trained.config["examples"][0]["input"]


def test_shelf_sweep_survives_an_entry_removed_meanwhile(monkeypatch, tmp_path):
    """Two requests sweep the shelf at once: an entry the other one removed is skipped, not an error."""
    import os
    import time

    from labs.wheel_packaging import workdir

    monkeypatch.setattr(workdir, "SHELF", tmp_path)
    old = tmp_path / "old"
    old.mkdir()
    os.utime(old, (time.time() - workdir.KEEP_S - 10,) * 2)
    (tmp_path / "gone").symlink_to(tmp_path / "removed-by-another-request")  # stat() raises FileNotFoundError
    assert workdir.sweep() == 1 and not old.exists()
    assert workdir.keep() == []  # keep() sweeps first; it no longer fails on such an entry either


def test_has_source_spots_py_files(trained, tmp_path):
    proj = project.render_project(spec_for(), trained["moons"])
    built = building.run_build(project.write_project(proj, tmp_path / "p"), tmp_path / "dist", isolated=False,
                               sdist=False)
    assert pipeline.has_source(inspection.inspect_wheel(built.wheel))  # the pure wheel ships its .py files


def test_sourceless_and_native_wheels(trained, tmp_path):
    if sourceless.compiler() is None:
        pytest.skip("no C compiler: apt-get install gcc (CI installs it with .ci/lab-wheel_packaging.sh)")
    proj = project.render_project(spec_for(), trained["moons"])
    builds = {f: sourceless.build_flavour(proj, f, tmp_path, isolated=False) for f in ("bytecode", "native")}
    bytecode, native = builds["bytecode"].report, builds["native"].report
    assert bytecode.tags == ["cp311-none-any"] or bytecode.tags[0].endswith("-none-any")
    assert not [p for p, _, _ in bytecode.files if p.endswith(".py")]  # no model source at all
    assert "tiny_moons/model.pyc" in [p for p, _, _ in bytecode.files]
    assert native.tags[0].startswith("py3-none-") and not native.tags[0].endswith("any")
    assert "tiny_moons/libtinymodel.so" in [p for p, _, _ in native.files]
    assert bytecode.record_ok and native.record_ok
    recovered = sourceless.disassemble(builds["bytecode"].build.wheel, "tiny_moons")
    assert "TinyModel.predict" in recovered and "LOAD_GLOBAL" in recovered
    assert "Parse a safetensors file" in recovered  # docstrings survive compilation
    if shutil.which("nm"):
        assert "T tm_dense" in sourceless.exported_symbols(builds["native"].build.wheel, tmp_path)
    example = trained["moons"].config["examples"][2]
    for flavour, b in builds.items():
        result = tryout.install_and_run(b.build.wheel, tmp_path / f"try-{flavour}", import_name="tiny_moons",
                                        script="tiny-moons-predict", example=example["input"], cli_args=["0.5", "0.25"])
        assert result.prediction["prediction"]["label"] == example["output"]["label"]
        assert result.prediction["prediction"]["probabilities"] == pytest.approx(example["output"]["probabilities"],
                                                                                 abs=1e-4)
    assert result.prediction["backend"] == "native C library (ctypes)"
    other = sourceless.load_from_another_program(result, "tiny_moons")  # the .so used without the model code
    assert "tinymodel 1.0" in other and "tm_dense: 11.5" in other
    contents = checks.wheel_contents_check(builds["bytecode"].build.wheel, "tiny_moons")
    assert not contents.passed and "W001" in contents.output  # the validator flags the .pyc files


def test_failed_build_shows_the_real_error(trained, tmp_path):
    proj = project.render_project(spec_for(), trained["temperature"])
    root = project.write_project(proj, tmp_path / "p")
    text = (root / "pyproject.toml").read_text()
    # PEP 639 forbids a licence classifier next to a licence expression: setuptools refuses to build.
    text = text.replace('"Programming Language :: Python :: 3",',
                        '"Programming Language :: Python :: 3", "License :: OSI Approved :: MIT License",')
    (root / "pyproject.toml").write_text(text)
    with pytest.raises(building.BuildError, match=r"(?s)build failed.*License ::"):
        building.run_build(root, tmp_path / "dist", isolated=False)


def test_missing_tools_are_clear_errors(monkeypatch, tmp_path):
    from shared.optional import MissingDependency

    monkeypatch.setattr(building, "setuptools_version", lambda: (65, 5))
    with pytest.raises(building.BuildError, match="Isolated build"):
        building.run_build(tmp_path, tmp_path / "dist", isolated=False)
    monkeypatch.setattr(building, "missing", lambda names: list(names))
    with pytest.raises(MissingDependency, match="requirements/wheel_packaging.txt"):
        building.run_build(tmp_path, tmp_path / "dist", isolated=True)
    monkeypatch.setattr(sourceless, "compiler", lambda: None)
    with pytest.raises(MissingDependency, match="gcc"):
        sourceless.check_compiler()


def test_missing_torch_says_what_to_install(monkeypatch):
    import sys

    from shared.optional import MissingDependency

    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(MissingDependency, match="requirements/wheel_packaging.txt"):
        tinymodels.train("moons")


def test_junk_is_not_a_wheel(tmp_path):
    junk = tmp_path / "junk-1.0-py3-none-any.whl"
    junk.write_bytes(b"not a zip")
    with pytest.raises(inspection.WheelFormatError, match="not a zip"):
        inspection.inspect_wheel(junk)
    with pytest.raises(inspection.WheelFormatError, match="not a valid wheel file name"):
        inspection.inspect_wheel(tmp_path / "nonsense.whl")


# ---------------------------------------------------------------- the app

def test_app_builds_alone():
    import gradio as gr

    from labs.wheel_packaging import app

    assert isinstance(app.demo, gr.Blocks)
    names = [fn.api_name for fn in app.demo.fns.values() if fn.api_name]
    assert names and all(n.startswith("wheel_packaging_") for n in names)


def test_end_to_end_through_gradio_client(client_for):
    from gradio_client.exceptions import AppError

    from labs.wheel_packaging import app

    client = client_for(app.demo)
    out = client.predict("review-sentiment", "1.0.0rc1", "Apache-2.0", "sentiment", "Example Labs", False,
                         api_name="/wheel_packaging_build")
    # gr.State outputs are not sent to API clients: status, file_pick, file_view, zip, build_log, dist, report,
    # metadata, record, checks, proof, proof_log, publish.
    status, metadata, checks_log, proof = out[0], out[7], out[9], out[10]
    assert "Installed in a fresh venv" in status and "tests passed" in status
    assert "License-Expression: Apache-2.0" in metadata and "Version: 1.0.0rc1" in metadata
    assert "twine: passed" in checks_log
    assert '"label": "positive"' in proof
    files = [Path(f["path"]).name for f in out[5]]
    assert files == ["review_sentiment-1.0.0rc1.tar.gz", "review_sentiment-1.0.0rc1-py3-none-any.whl"]

    with pytest.raises(AppError, match="escape the work folder"):
        client.predict("../escape", "0.1", "MIT", "moons", "Mallory", False, api_name="/wheel_packaging_build")
    with pytest.raises(AppError, match="PEP 440"):
        client.predict("tiny", "v1.0-final!", "MIT", "moons", "Ada", False, api_name="/wheel_packaging_build")
    # The file viewer reads the project kept in this session's state by the build above.
    shown = client.predict("src/review_sentiment/cli.py", api_name="/wheel_packaging_show_file")
    assert "def main(" in (shown["value"] if isinstance(shown, dict) else shown)
    with pytest.raises(AppError, match="not in the list of choices"):  # gradio checks the dropdown
        client.predict("../../etc/passwd", api_name="/wheel_packaging_show_file")

    summary, mit, apache = client.predict("tiny-moons", "0.1.0", "moons", "Ada", False,
                                          api_name="/wheel_packaging_compare_licences")
    assert "License-Expression: MIT" in mit and "License-Expression: Apache-2.0" in apache
    assert "licenses/NOTICE" in apache and "licenses/NOTICE" not in mit
