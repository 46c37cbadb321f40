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
    from gradio_client import Client

    from shared.ui import LIGHT_CONCURRENCY
    from tests.conftest import free_port

    app.demo.queue(default_concurrency_limit=LIGHT_CONCURRENCY)
    _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield Client(url, verbose=False, download_files=False)
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
    assert "USER 1000" in dockerfile and "sdk: docker" in space_readme and 'cuda: "12.6"' in cog_yaml
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
