"""spaces/export.py: every lab exports as a self-contained Space that starts from its own folder."""

import importlib.util
import os
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
    assert fields["python_version"] == "3.11" and isinstance(fields["sdk_version"], str)


def test_front_matter_and_flat_requirements(tmp_path):
    import yaml

    export = load_export()
    lab = LABS[-1]
    out = export.export(lab.slug, tmp_path / "space")
    readme = (out / "README.md").read_text(encoding="utf-8")
    fields = yaml.safe_load(readme.split("---")[1])
    gradio_pin = export.gradio_version()
    assert fields["sdk"] == "gradio" and fields["sdk_version"] == gradio_pin
    assert fields["app_file"] == "app.py" and fields["python_version"] == "3.11"
    assert fields["title"] == lab.title and fields["short_description"] == lab.summary
    for key in ("emoji", "colorFrom", "colorTo", "license"):
        assert fields[key]
    assert ("suggested_hardware" in fields) == bool(lab.hardware)
    reqs = (out / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert f"gradio=={gradio_pin}" in reqs
    lab_reqs = export.read_requirements(ROOT / lab.requirements_file)
    assert all(line in reqs for line in lab_reqs)
    assert len({r.split("=")[0].split(">")[0] for r in reqs}) == len(reqs), "each package once"
    assert (out / "labs" / lab.slug / "app.py").is_file() and (out / "shared" / "ui.py").is_file()
    assert not list(out.rglob("__pycache__"))
    others = [p.name for p in (out / "labs").iterdir() if p.is_dir() and p.name != lab.slug]
    assert others == [], "a Space carries only its own lab"


def test_export_cli_rejects_unknown_slug(tmp_path):
    out = subprocess.run([sys.executable, "spaces/export.py", "nope", "--out", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "registered labs" in out.stderr


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
                        {"repo_type": "space", "space_sdk": "gradio", "exist_ok": True})
    assert calls[2][0] == "upload_folder"
    assert calls[2][1]["repo_type"] == "space" and calls[2][1]["folder_path"] == str(folder)


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
