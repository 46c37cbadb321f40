"""requirements/locks/: exact pins for every lab's whole closure, what the tests run, regenerated with
today's requirements (spaces/lock.py). Offline: the resolver itself is run by `spaces/lock.py --check`."""

import importlib.util
import re
from pathlib import Path

import pytest

from labs import LABS

ROOT = Path(__file__).resolve().parents[1]
CPU_LABS = [lab for lab in LABS if not (lab.hardware or "").startswith("zero")]
GPU_ONLY = re.compile(r"^(nvidia-|cuda-|triton$)")


def load_lock():
    spec = importlib.util.spec_from_file_location("space_lock", ROOT / "spaces" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lock = load_lock()
REGENERATE = "regenerate them: .venv/bin/python spaces/lock.py"


def torch_pin():
    text = (ROOT / "requirements" / "constraints.txt").read_text(encoding="utf-8")
    return re.search(r"^torch==(\S+)$", text, re.M).group(1)


def test_every_lab_has_a_lock_of_exact_pins():
    suite, meta = lock.read_lock(lock.SUITE_LOCK)
    assert len(suite) > 150 and meta["python"] == "3.11" and meta["torch"] == "cpu"
    for lab in LABS:
        pins, meta = lock.read_lock(lock.lock_path(lab.slug))
        assert "gradio" in pins and ("torch" in pins) == ("torch" in lab.needs), lab.slug
        assert meta["python"] == lock.python_for(lab)
    extra = {p.stem for p in lock.LOCKS.glob("*.txt")} - {lab.slug for lab in LABS} - {"suite"}
    assert not extra, f"locks for no registered lab: {extra}"


@pytest.mark.parametrize("lab", [None, *LABS], ids=lambda lab: lab.slug if lab else "suite")
def test_locks_were_resolved_from_todays_requirements(lab):
    _, meta = lock.read_lock(lock.lock_path(lab.slug if lab else None))
    assert meta["inputs-sha256"] == lock.lock_digest(lab), \
        f"requirements changed since the lock was written; {REGENERATE}"


def test_suite_lock_satisfies_every_requirement_and_is_a_closed_set():
    pins, _ = lock.read_lock(lock.SUITE_LOCK)
    inputs = lock.suite_inputs()
    assert lock.unsatisfied([*inputs, lock.CONSTRAINTS], pins) == []
    assert lock.closure_gaps(pins, lock.requested_extras(inputs)) == []
    assert pins["torch"] == torch_pin() + "+cpu", "the suite runs torch's CPU build"
    base = (ROOT / "requirements" / "base.txt").read_text(encoding="utf-8")
    assert f"gradio=={pins['gradio']}" in base.splitlines()


def test_the_running_environment_is_the_suite_lock():
    # .ci/setup.sh installs with the suite lock as a constraint: what the tests run is what it says.
    pins, _ = lock.read_lock(lock.SUITE_LOCK)
    installed = lock.installed_versions()
    drift = {name: (version, installed.get(name)) for name, version in pins.items() if installed.get(name) != version}
    assert not drift, (f"installed versions differ from requirements/locks/suite.txt (locked, installed): {drift}; "
                       "run `bash .ci/setup.sh --test`, or if the requirements changed, " + REGENERATE)


@pytest.mark.parametrize("lab", CPU_LABS, ids=lambda lab: lab.slug)
def test_cpu_lab_lock_is_base_plus_lab_at_the_suites_versions(lab):
    pins, meta = lock.read_lock(lock.lock_path(lab.slug))
    suite, _ = lock.read_lock(lock.SUITE_LOCK)
    inputs = lock.lab_inputs(lab)
    assert lock.unsatisfied(inputs, pins) == []
    assert lock.closure_gaps(pins, lock.requested_extras(inputs)) == [], "a Space installs only this lock"
    assert {name: suite.get(name) for name in pins} == pins, "every version is one the tests ran"
    assert pins.get("torch", torch_pin() + "+cpu") == torch_pin() + "+cpu" and meta["torch"] == "cpu"
    assert not any(GPU_ONLY.match(name) for name in pins), "no CUDA wheels on a CPU Space"
    for runtime in ("spaces", "uvicorn", "authlib", "mcp"):
        assert runtime in pins, f"{runtime}: Hugging Face installs it on every Gradio Space, so it is locked"


def test_zerogpu_lab_lock_has_cuda_torch_and_otherwise_the_suites_versions():
    for lab in LABS:
        if lab in CPU_LABS:
            continue
        pins, meta = lock.read_lock(lock.lock_path(lab.slug))
        suite, _ = lock.read_lock(lock.SUITE_LOCK)
        assert meta["python"] == lock.ZEROGPU_PYTHON and meta["torch"] == "cuda"
        assert pins["torch"] == torch_pin(), "PyTorch's default (CUDA) build from PyPI"
        assert any(name.startswith("nvidia-") for name in pins)
        others = {n: v for n, v in pins.items() if n != "torch" and not GPU_ONLY.match(n)}
        assert {n: suite.get(n) for n in others} == others
        assert lock.unsatisfied(lock.lab_inputs(lab), pins) == []


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_every_lab_lock_pins_the_exact_file_of_every_package(lab):
    path = lock.lock_path(lab.slug)
    pins, _ = lock.read_lock(path)
    hashes = lock.read_hashes(path)
    assert set(hashes) == set(pins), f"packages without a sha256: {sorted(set(pins) - set(hashes))}"
    assert all(len(h) == 1 and re.fullmatch(r"sha256:[0-9a-f]{64}", h[0]) for h in hashes.values())


def test_hashed_lock_lines_round_trip(tmp_path):
    text = lock.render_lock(LABS[-1], {"numpy": "2.0.0", "pillow": "11.0.0"}, digest="x", pip_version="26",
                            hashes={"numpy": "sha256:" + "a" * 64})
    path = tmp_path / "lock.txt"
    path.write_text(text, encoding="utf-8")
    assert lock.read_lock(path)[0] == {"numpy": "2.0.0", "pillow": "11.0.0"}
    assert lock.read_hashes(path) == {"numpy": ["sha256:" + "a" * 64]}
    path.write_text(text.replace("a" * 64, "not-a-hash"), encoding="utf-8")
    with pytest.raises(lock.LockError, match="not an exact pin"):
        lock.read_lock(path)


def test_unsatisfied_and_closure_gaps_catch_a_broken_lock(tmp_path):
    pins, _ = lock.read_lock(lock.SUITE_LOCK)
    broken = dict(pins)
    broken.pop("trimesh")
    broken["numpy"] = "1.0.0"
    complaints = lock.unsatisfied(lock.suite_inputs(), broken)
    assert any("trimesh" in c and "not in the lock" in c for c in complaints)
    assert any(c.startswith("base.txt: numpy>=1.26") for c in complaints)
    missing_dep = dict(pins)
    missing_dep.pop("authlib")  # gradio[oauth]
    assert any("authlib" in gap for gap in lock.closure_gaps(missing_dep, {"gradio": {"oauth"}}))
    bad = tmp_path / "bad.txt"
    bad.write_text("numpy>=1\n", encoding="utf-8")
    with pytest.raises(lock.LockError, match="not an exact pin"):
        lock.read_lock(bad)


def test_editing_a_requirements_file_changes_the_digest(tmp_path):
    lab = LABS[-1]
    before = lock.inputs_digest(lock.lab_inputs(lab))
    copy = tmp_path / "requirements"
    copy.mkdir()
    for path in lock.lab_inputs(lab):
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    moved = [tmp_path / p.relative_to(ROOT) for p in lock.lab_inputs(lab)]
    assert lock.inputs_digest(moved, root=tmp_path) == before
    moved[1].write_text(moved[1].read_text(encoding="utf-8") + "newpackage>=1\n", encoding="utf-8")
    assert lock.inputs_digest(moved, root=tmp_path) != before


def test_setup_installs_with_the_suite_lock_and_the_spaces_runtime():
    setup = (ROOT / ".ci" / "setup.sh").read_text(encoding="utf-8")
    assert "-c requirements/locks/suite.txt" in setup
    assert "-r requirements/locks/space-runtime.in" in setup
    runtime = lock.RUNTIME.read_text(encoding="utf-8")
    assert re.search(r"^gradio\[oauth,mcp\]$", runtime, re.M), "gradio's version comes from base.txt"
