"""docker_mlops through its launched Gradio app (gradio_client), including bad input and the secret token."""

from __future__ import annotations

import pytest
from gradio_client.exceptions import AppError

from labs.docker_mlops import lint

SETTINGS = ["replica", "tiny-model", "tiny-model", "0.1.0", 3, "3.11", "2.6.0", "12.6", True, True]


@pytest.fixture(scope="module")
def app():
    import labs.docker_mlops.app as app

    return app


@pytest.fixture(scope="module")
def client(app):
    """One launched app for the whole module (as conftest's client_for does, but launched once)."""
    from tests.conftest import timed_client

    from shared.ui import LIGHT_CONCURRENCY
    from tests.conftest import free_port

    app.demo.queue(default_concurrency_limit=LIGHT_CONCURRENCY)
    _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield timed_client(url, verbose=False, download_files=False)
    finally:
        app.demo.close()


def test_lab_builds_alone_with_slug_prefixed_events(app):
    import gradio as gr

    assert isinstance(app.demo, gr.Blocks)
    names = [fn.api_name for fn in app.demo.fns.values()]
    assert names and all(str(n).startswith("docker_mlops_") for n in names)
    assert "docker_mlops_publish" in names and "docker_mlops_replicas" in names


def test_generate_end_to_end(client):
    summary, table, zip_file, dockerfile, space_readme, cog_yaml, predict_py, compose, nginx, k8s, readme = \
        client.predict(*SETTINGS, api_name="/docker_mlops_generate")
    assert "every check passed" in summary, summary
    rows = table["data"]
    assert rows and not [r for r in rows if "error" in r[2]]
    assert "USER 1000" in dockerfile and 'sdk: "docker"' in space_readme and 'cuda: "12.6"' in cog_yaml
    assert "class Predictor(BasePredictor)" in predict_py and "replicas: 3" in compose and "upstream app" in nginx
    assert "kind: Deployment" in k8s and zip_file


def test_cuda_choices_follow_torch(client):
    out = client.predict("2.8.0", api_name="/docker_mlops_cuda_choices")
    assert out["value"] == "12.9" and [c[0] for c in out["choices"]] == ["12.6", "12.8", "12.9"]


@pytest.mark.skipif(lint.nginx_path() is None, reason="nginx is not installed (CI installs it)")
def test_replicas_end_to_end(client):
    summary, per_replica, shots, nginx_errors, conf = client.predict(3, 12, 2000, 3, True, 0,
                                                                    api_name="/docker_mlops_replicas")
    assert "after killing r1" in summary and "All processes stopped: **True**" in summary
    assert "12/12 answered, 0 errors" in summary
    table = per_replica.get("value", per_replica)  # an update (new headers) or a plain table
    assert table["headers"] == ["replica", "port", "pid", "3 replicas healthy", "after killing r1"]
    assert [row[0] for row in table["data"]] == ["r1", "r2", "r3"]
    assert all(row[3] == 4 for row in table["data"])  # round-robin: 12 requests, 4 each
    assert len(shots["data"]) == 24
    assert "upstream" in nginx_errors and "max_fails=1" in conf


@pytest.mark.parametrize("changes,words", [
    ({2: "Tiny Model"}, "not a valid Docker image name"),
    ({3: "bad tag!"}, "not a valid Docker tag"),
    ({4: 12}, "greater than maximum value 8|out of range"),  # gradio checks the slider first
    # Our own check, or gradio's (it validates a dropdown against its current choices first).
    ({6: "2.8.0", 7: "11.8"}, "torch 2.8.0 has no CUDA 11.8 build|11.8 is not in the list of choices"),
    ({0: "no_such_lab"}, "Unknown app|no_such_lab is not in the list of choices"),
])
def test_bad_settings_give_clear_errors(client, changes, words):
    values = list(SETTINGS)
    for index, value in changes.items():
        values[index] = value
    with pytest.raises(AppError, match=words):
        client.predict(*values, api_name="/docker_mlops_generate")


def test_bad_replica_settings_and_the_server_keeps_serving(client):
    with pytest.raises(AppError, match="at least 2 replicas"):
        client.predict(1, 12, 2000, 3, True, 0, api_name="/docker_mlops_replicas")
    with pytest.raises(AppError, match="needs root"):
        client.predict(2, 12, 2000, 3, False, 80, api_name="/docker_mlops_replicas")
    assert client.predict("2.6.0", api_name="/docker_mlops_cuda_choices")["value"] == "12.6"


def test_publish_without_network_is_clear_and_never_echoes_the_token(client):
    token = "hf_NeverShowThisToken42"
    with pytest.raises(AppError) as info:
        client.predict(*SETTINGS, "someone/tiny-model", token, "docker", True, api_name="/docker_mlops_publish")
    assert "Could not publish someone/tiny-model" in str(info.value) and token not in str(info.value)
    with pytest.raises(AppError, match="not a Gradio app"):
        client.predict(*SETTINGS, "someone/tiny-model", token, "gradio", True, api_name="/docker_mlops_publish")
    with pytest.raises(AppError, match="No token"):
        client.predict(*SETTINGS, "someone/tiny-model", "", "docker", True, api_name="/docker_mlops_publish")


def test_publish_through_the_ui_handler_with_a_fake_hub(app, monkeypatch):
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token):
            calls.append(token)

        def create_repo(self, repo_id, **kwargs):
            calls.append((repo_id, kwargs["space_sdk"]))

        def upload_folder(self, **kwargs):
            calls.append(sorted(p.name for p in __import__("pathlib").Path(kwargs["folder_path"]).iterdir()))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    out = app.publish_space(*SETTINGS, "someone/tiny-model", "hf_FakeToken123456", "docker", True,
                            progress=lambda *a, **k: None)
    assert "https://huggingface.co/spaces/someone/tiny-model" in out and "hf_FakeToken" not in out
    assert calls[0] == "hf_FakeToken123456" and calls[1] == ("someone/tiny-model", "docker")
    assert {"Dockerfile", "README.md", "replica.py"} <= set(calls[2])


def test_publish_a_lab_as_a_gradio_space_goes_through_spaces_export(app, monkeypatch, tmp_path):
    import subprocess

    import huggingface_hub

    from labs.docker_mlops import bundle

    if not bundle.can_export()[0]:
        pytest.skip(bundle.can_export()[1])
    token, seen, created = "hf_FakeToken123456", [], []
    real_run = subprocess.run

    class FakeApi:
        def __init__(self, token):
            created.append(token)

        def create_repo(self, repo_id, **kwargs):
            created.append((repo_id, kwargs["space_sdk"], kwargs["private"]))

    def fake_run(args, **kwargs):
        if str(bundle.EXPORT_SCRIPT) not in map(str, args):
            return real_run(args, **kwargs)
        seen.append((args, kwargs["env"].get("HF_TOKEN")))
        out = args[args.index("--out") + 1]
        # The real export (no --push: the upload is the network boundary), then what --push prints.
        done = real_run([a for a in args if a not in ("--push", "someone/png-to-glb")], **kwargs)
        assert done.returncode == 0, done.stderr
        return subprocess.CompletedProcess(args, 0, f"Wrote the Space to {out}\nPushed: "
                                           "https://huggingface.co/spaces/someone/png-to-glb\n", "")

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(subprocess, "run", fake_run)
    settings = ["png_to_glb", "png-to-glb", *SETTINGS[2:]]
    out = app.publish_space(*settings, "someone/png-to-glb", token, "gradio", True, progress=lambda *a, **k: None)
    assert "https://huggingface.co/spaces/someone/png-to-glb" in out and "gradio Space" in out and token not in out
    (args, env_token), = seen
    assert args[1:4] == [str(bundle.EXPORT_SCRIPT), "png_to_glb", "--out"]
    assert args[-2:] == ["--push", "someone/png-to-glb"]
    assert env_token == token and not any(token in str(a) for a in args)
    assert created == [token, ("someone/png-to-glb", "gradio", True)]


def test_start_up_runs_no_subprocess():
    """Building the lab (as the launcher does) must not run `docker info` or any other command."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import subprocess, sys\n"
            "def refuse(*a, **k):\n    raise SystemExit(f'subprocess at import: {a[0] if a else k}')\n"
            # A Popen subclass, so `subprocess.Popen[bytes]` in libraries' annotations still works.
            "class Refused(subprocess.Popen):\n    def __init__(self, *a, **k):\n        refuse(*a, **k)\n"
            "subprocess.run = subprocess.check_output = refuse\n"
            "subprocess.Popen = Refused\n"
            "import labs.docker_mlops.app as app\n"
            "print('ok', len(app.demo.fns))\n")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=180,
                         env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stdout + out.stderr[-2000:]


def test_compose_dirs_are_kept_in_memory_not_in_a_shared_temp_file(app, monkeypatch):
    import tempfile
    from pathlib import Path

    monkeypatch.setattr(app.engine, "stream", lambda args, cwd=None: iter([f"ran {args[1]} in {cwd.name}"]))
    monkeypatch.setattr(app, "COMPOSE_DIRS", {})
    name = "never-shared-marker"
    marker = Path(tempfile.gettempdir(), f"docker-mlops-{name}.compose")
    with pytest.raises(Exception, match="Nothing to stop"):
        list(app.compose_down(name))
    settings = [SETTINGS[0], name, *SETTINGS[2:]]
    assert list(app.compose_up(*settings)) == ["ran compose in compose\n"]
    assert app.COMPOSE_DIRS[name].is_dir() and app.COMPOSE_DIRS[name].name == "compose"
    assert not marker.exists()
    assert list(app.compose_down(name)) == ["ran compose in compose\n"]


def test_docker_buttons_follow_the_engine(app, client):
    status = client.predict(api_name="/docker_mlops_engine")
    text = status[0] if isinstance(status, (list, tuple)) else status
    if app.engine.detect().engine:
        assert "Docker engine" in text
    else:
        assert "No Docker engine here" in text and "disabled" in text
        with pytest.raises(AppError, match="No Docker engine here"):
            client.predict(*SETTINGS, api_name="/docker_mlops_docker_build")


def test_compose_down_refuses_a_name_that_is_not_a_dns_label(client):
    with pytest.raises(AppError, match="DNS label"):
        client.predict("../../etc/passwd", api_name="/docker_mlops_compose_down")


def test_any_torch_with_its_own_cuda_build_can_be_generated_in_one_call(client):
    # A fresh session has not called cuda_choices: the CUDA dropdown still lists the default torch's builds.
    from tests.conftest import timed_client

    fresh = timed_client(client.src, verbose=False, download_files=False)
    values = list(SETTINGS)
    values[6:8] = ["2.9.1", "13.0"]
    summary, *_, cog_yaml, _, _, _, _, _ = fresh.predict(*values, api_name="/docker_mlops_generate")
    assert "every check passed" in summary and 'cuda: "13.0"' in cog_yaml
    values[6:8] = ["2.4.1", "12.6"]  # a pair PyTorch never built: our own check says so
    with pytest.raises(AppError, match="torch 2.4.1 has no CUDA 12.6 build"):
        fresh.predict(*values, api_name="/docker_mlops_generate")


def test_cog_run_with_an_empty_field_says_which_before_starting_a_server(app, monkeypatch):
    import gradio as gr

    def refuse(*args, **kwargs):
        raise AssertionError("cog's server must not start for an empty field")

    monkeypatch.setattr(app.cog_local, "predict_locally", refuse)
    with pytest.raises(gr.Error, match="The rounds field is empty"):
        app.run_cog(*SETTINGS, "0,1,2", None)


def test_a_held_out_digit_through_the_replicas_end_to_end(client):
    from labs.docker_mlops import model

    picture, text, probabilities = client.predict(4, 2, api_name="/docker_mlops_predict_sample")
    pixels, label = model.trained().sample(4)
    expected = int(model.trained().model().predict(pixels)[0])
    assert f"Prediction: **{expected}**" in text and f"says **{expected}**" in text and f"True label: **{label}**" in text
    assert "All processes stopped: **True**" in text and "held-out accuracy" in text
    assert probabilities["label"] == str(expected) and picture
    with pytest.raises(AppError, match="The sample number|greater than maximum value 449"):
        client.predict(10_000, 2, api_name="/docker_mlops_predict_sample")
