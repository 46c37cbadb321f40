"""docker_mlops logic: settings checks, generated files through the real linters, replicas behind a
real nginx (spread, a killed replica routed around, every process stopped), cog's own server,
Docker engine detection and the publish boundary (HfApi mocked). No network, no Docker engine."""

from __future__ import annotations

import dataclasses
import os
import re
import socket
from pathlib import Path

import pytest

from importlib import metadata

from labs import LABS, get
from labs.docker_mlops import bundle, compare, engine, lint, publish, replica, replicas, settings, templates
from labs.docker_mlops.settings import BuildSettings, SettingsError

NGINX = lint.nginx_path()
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (CI installs it: .ci/lab-docker_mlops.sh)")
S = BuildSettings()


@pytest.fixture(autouse=True)
def _fresh_engine_cache(monkeypatch):
    """Each test starts with no cached Docker detection and leaves none behind (fake CLIs come and go)."""
    monkeypatch.setattr(engine, "_cache", None)


def errors(findings):
    return [f for f in findings if f.level == "error"]


# --- settings -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("image,tag", [("tiny-model", "0.1.0"), ("ghcr.io/you/tiny_model", "v1"),
                                       ("localhost:5000/a/b.c", "2024-01-01"), ("r8.im/you/model", "latest")])
def test_valid_image_references(image, tag):
    assert settings.check_image(f" {image} ", tag) == (image, tag)


@pytest.mark.parametrize("image,tag,words", [
    ("Tiny-Model", "1", "lowercase"), ("tiny-model:1.0", "1", "Tag field"), ("", "1", "empty"),
    ("tiny-model", "", "tag is empty"), ("tiny-model", "-bad", "not a valid Docker tag"),
    ("tiny--model_", "1", "not a valid Docker image name"), ("a" * 256, "1", "at most 255"),
])
def test_invalid_image_references_say_what_to_do(image, tag, words):
    with pytest.raises(SettingsError, match=words):
        settings.check_image(image, tag)


@pytest.mark.parametrize("n", [0, 9, 2.5, None])
def test_replicas_out_of_range(n):
    with pytest.raises(SettingsError, match="1 to 8|whole number"):
        settings.check_replicas(n)


def test_torch_cuda_pair_and_python_are_checked():
    assert settings.check_torch_cuda("2.6.0", "12.6", "3.11") == ("2.6.0", "12.6", "3.11")
    with pytest.raises(SettingsError, match=r"no CUDA 12\.8 build; it was built for CUDA 11\.8, 12\.4, 12\.6"):
        settings.check_torch_cuda("2.6.0", "12.8", "3.11")
    with pytest.raises(SettingsError, match="no wheels for Python 3.9"):
        settings.check_torch_cuda("2.9.1", "13.0", "3.9")
    assert settings.newest_cuda("2.8.0") == "12.9"


@pytest.mark.parametrize("repo_id", ["nobody", "a/b/c", "/x", "a/", "bad id/x", "a/b.git", "a/..b"])
def test_bad_space_ids(repo_id):
    with pytest.raises(SettingsError, match="owner/name"):
        settings.check_repo_id(repo_id)


def test_ports_and_app_names():
    assert settings.check_port(0) == 0 and settings.check_port(8080) == 8080
    with pytest.raises(SettingsError, match="needs root"):
        settings.check_port(80)
    with pytest.raises(SettingsError, match="DNS label"):
        settings.check_settings(name="Tiny_Model", image="a", tag="1", source="replica", replicas=2, python="3.11",
                                torch="2.6.0", cuda="12.6", gpu=True, build_secret=True, rounds=10,
                                known_sources=("replica",))


# --- generated files through the real linters ------------------------------------------------------------

@pytest.fixture(scope="module")
def files():
    return templates.generate_files(S, title="tiny-model")


def test_default_bundle_passes_every_linter(files):
    findings = lint.lint_bundle(files, S)
    assert not errors(findings), [f.row() for f in errors(findings)]
    tools = {f.tool for f in findings if f.level == "ok"}
    # The real tools ran (they are in requirements/docker_mlops.txt; nginx comes from .ci/lab-docker_mlops.sh).
    assert {"hadolint", "check-jsonschema", "kubernetes-validate", "cog inspector", "SpaceCard"} <= tools
    if NGINX:
        assert "nginx -t" in tools
    assert not [f for f in findings if f.level == "warning"], "the generated files are hadolint-clean"


def test_space_dockerfile_follows_the_space_rules(files):
    text = files["docker-space/Dockerfile"]
    assert "FROM python:3.11.11-slim-bookworm" in text and "useradd --create-home --uid 1000 user" in text
    assert "USER 1000" in text and "EXPOSE 7860" in text and "HEALTHCHECK" in text
    assert "RUN --mount=type=secret,id=HF_TOKEN" in text and "ARG HF_TOKEN" not in text
    card = publish.front_matter(files["docker-space/README.md"])
    assert card["sdk"] == "docker" and card["app_port"] == 7860
    # The small app the image runs is the real replica.py, byte for byte.
    assert files["docker-space/replica.py"] == Path(replica.__file__).read_text(encoding="utf-8")


@pytest.mark.parametrize("slug", [lab.slug for lab in LABS])
def test_space_readme_front_matter_parses_for_every_lab(slug):
    """Titles such as "Docker MLOps: one app, every target" contain ': ': the front matter must stay valid YAML."""
    import yaml

    lab = get(slug)
    text = templates.space_readme(S, title=lab.title, emoji=lab.emoji, summary=lab.summary)
    head = text.split("---\n")[1]
    data = yaml.safe_load(head)
    assert data["title"] == lab.title and data["emoji"] == lab.emoji and data["sdk"] == "docker"
    assert data["app_port"] == 7860 and data["pinned"] is False and data["short_description"] == lab.summary[:60]
    assert publish.front_matter(text) == data
    assert not errors(lint.check_space_readme(text)), [f.row() for f in lint.check_space_readme(text)]


def test_pin_requirements_pins_installed_versions_and_keeps_the_rest():
    versions = {"gradio": "6.31.0", "torch": "2.13.0+cpu", "moto": "5.2.5", "numpy": "2.4.6"}

    def version_of(name):
        if name not in versions:
            raise metadata.PackageNotFoundError(name)
        return versions[name]

    text = ("# base\ngradio==6.31.0\ntorch>=2.3\nmoto[server]>=5.0\nnot-here>=1\nnumpy<2\n"
            "--extra-index-url https://download.pytorch.org/whl/cpu\n")
    out = bundle.pin_requirements(text, version_of=version_of).splitlines()
    assert out[0].startswith("# Pinned from the Python") and "environment that generated this file" in out[0]
    assert "gradio==6.31.0" in out and "torch==2.13.0" in out and "moto[server]==5.2.5" in out
    assert "not-here>=1  # not installed where this file was generated: range kept" in out
    assert "numpy<2  # installed 2.4.6 is outside this range: range kept" in out
    assert "# base" in out and "--extra-index-url https://download.pytorch.org/whl/cpu" in out


def test_compose_has_n_replicas_no_host_port_and_nginx_round_robin(files):
    import yaml

    doc = yaml.safe_load(files["compose/compose.yaml"])
    app = doc["services"]["app"]
    assert app["deploy"]["replicas"] == 3 and "ports" not in app and app["expose"] == ["7860"]
    assert doc["services"]["lb"]["ports"] == ["8080:80"]
    conf = files["compose/nginx.conf"]
    assert "server app:7860 max_fails=1 fail_timeout=10s;" in conf and "ip_hash" not in conf
    assert "proxy_next_upstream error timeout http_502 http_503;" in conf


@pytest.mark.parametrize("mutate,file,words", [
    (lambda t: t.replace("USER 1000\n", ""), "docker-space/Dockerfile", "runs as root"),
    (lambda t: t.replace("python:3.11.11-slim-bookworm", "python:latest"), "docker-space/Dockerfile", "not pinned"),
    (lambda t: t.replace("    expose:\n", "    ports:\n      - \"7860:7860\"\n    expose:\n"), "compose/compose.yaml",
     "replicas would clash"),
    (lambda t: t.replace("    restart: unless-stopped\n\n  lb:", "    restart: unless-stopped\n    replica: 3\n\n  lb:"),
     "compose/compose.yaml", "'replica' was unexpected"),
    (lambda t: t.replace("  gpu: true", "  gpus: true"), "replicate/cog.yaml", "'gpus' was unexpected"),
    (lambda t: t.replace('cuda: "12.6"', 'cuda: "12.1"'), "replicate/cog.yaml", "no such build"),
    (lambda t: t.replace("targetPort: http", "targetPort: web"), "k8s/k8s.yaml", "matches no container port"),
    (lambda t: t.replace("containerPort: 7860", "containerPort: seventy"), "k8s/k8s.yaml", "Deployment/tiny-model"),
    (lambda t: t.replace("app_port: 7860", "app_port: 8000"), "docker-space/README.md", "app_port: 8000"),
])
def test_linters_catch_broken_files(files, mutate, file, words):
    broken = dict(files)
    broken[file] = mutate(files[file])
    assert broken[file] != files[file], "the mutation must change the file"
    found = [f for f in lint.lint_bundle(broken, S, only=file) if f.level == "error"]
    assert any(words in f.message for f in found), [f.row() for f in found]


def test_hadolint_reports_its_own_rule_codes():
    bad = "FROM python\nRUN apt-get install curl\nCMD python app.py\n"
    findings = lint.check_dockerfile(bad, S)
    codes = " ".join(f.message for f in findings if f.tool == "hadolint")
    assert "DL3006" in codes and "DL3008" in codes  # untagged base image, unpinned apt package
    assert any("no HEALTHCHECK" in f.message for f in errors(findings))


@needs_nginx
def test_nginx_t_rejects_a_broken_config(files):
    findings = lint.check_nginx(files["compose/nginx.conf"].replace("proxy_pass http://app;", "proxy_pass;"))
    assert errors(findings) and "invalid number of arguments" in errors(findings)[0].message


def test_predict_py_is_read_by_cogs_inspector(files):
    pytest.importorskip("cog")
    findings = lint.check_predict_py(files["replicate/predict.py"], files["replicate/replica.py"])
    inspected = next(f for f in findings if f.tool == "cog inspector")
    assert inspected.level == "ok" and "pixels: str" in inspected.message and "rounds: int [0..500000]" in inspected.message
    broken = files["replicate/predict.py"].replace("def setup(self) -> None:", "def setup(self, extra) -> None:")
    assert errors(lint.check_predict_py(broken, files["replicate/replica.py"]))


def test_cpu_cog_image_and_other_versions_lint_clean():
    s = dataclasses.replace(S, gpu=False, torch="2.5.1", cuda="12.4", python="3.12", replicas=5, build_secret=False)
    files = templates.generate_files(s, title="x")
    assert "gpu: false" in files["replicate/cog.yaml"] and "cuda:" not in files["replicate/cog.yaml"]
    assert "--mount=type=secret" not in files["docker-space/Dockerfile"]
    assert not errors(lint.lint_bundle(files, s))


def test_a_lab_of_the_suite_becomes_a_gradio_and_a_docker_space(tmp_path):
    ok, why = bundle.can_export()
    if not ok:
        pytest.skip(why)
    from labs import get

    lab = get("png_to_glb")
    s = dataclasses.replace(S, source="png_to_glb", name="png-to-glb", image="png-to-glb", replicas=2)
    files, zip_path = bundle.build_bundle(s, tmp_path, lab)
    root = zip_path.with_suffix("")
    assert (root / "gradio-space" / "app.py").is_file() and (root / "gradio-space" / "labs" / "png_to_glb").is_dir()
    assert publish.front_matter((root / "gradio-space" / "README.md").read_text())["sdk"] == "gradio"
    assert publish.front_matter((root / "docker-space" / "README.md").read_text())["sdk"] == "docker"
    # The Docker Space's requirements are pinned from this environment; the Gradio Space gets the lab's lock.
    from importlib import metadata

    pinned = (root / "docker-space" / "requirements.txt").read_text()
    assert "Pinned from the Python" in pinned and f"gradio=={metadata.version('gradio')}" in pinned
    assert f"numpy=={metadata.version('numpy')}" in pinned and "numpy>=" not in pinned
    assert f"numpy=={metadata.version('numpy')}" in (root / "gradio-space" / "requirements.txt").read_text()
    docker = files["docker-space/Dockerfile"]
    assert "download.pytorch.org/whl/cpu" in docker and 'CMD ["python", "app.py"]' in docker
    assert "ip_hash;" in files["compose/nginx.conf"]  # a Gradio session must stay on one replica
    assert not errors(lint.lint_bundle(files, s))
    import zipfile

    names = zipfile.ZipFile(zip_path).namelist()
    assert "docker-space/Dockerfile" in names and "gradio-space/labs/png_to_glb/app.py" in names


def test_export_says_so_when_the_repository_layout_is_absent(monkeypatch, tmp_path):
    monkeypatch.setattr(bundle, "EXPORT_SCRIPT", tmp_path / "missing" / "export.py")
    ok, why = bundle.can_export()
    assert not ok and "exported Space" in why
    with pytest.raises(ValueError, match="Pick the small app"):
        bundle.export_lab("png_to_glb", tmp_path / "out")


# --- the small app and the replicas behind nginx ---------------------------------------------------------

def test_work_is_deterministic_and_bounded():
    assert replica.work("a", 0) == b"a".hex()
    assert replica.work("hello", 3) == replica.work("hello", 3) != replica.work("hello", 4)
    with pytest.raises(ValueError, match="between 0 and"):
        replica.work("x", -1)


def test_one_replica_answers_its_endpoints(tmp_path):
    with replicas.ReplicaSet(1, tmp_path) as rs:
        port = rs.replicas[0].port
        status, headers, body = replicas.get_json(port, "/whoami")
        assert status == 200 and body["replica"] == "r1" and headers["x-replica"] == "r1"
        status, _, body = replicas.get_json(port, "/work?rounds=10&text=abc")
        assert status == 200 and body["digest"] == replica.work("abc", 10)
        assert replicas.get_json(port, "/work?rounds=-3")[0] == 400
        assert replicas.get_json(port, "/nope")[0] == 404
        pid = rs.replicas[0].proc.pid
    assert rs.all_stopped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@needs_nginx
def test_requests_spread_over_every_replica_and_survive_a_killed_one(tmp_path):
    result = replicas.run_demo(3, 24, 2000, kill_one=True, concurrency=3, workdir=tmp_path)
    first, second = result.phases
    assert first.errors == 0 and first.per_replica == {"r1": 8, "r2": 8, "r3": 8}  # round-robin
    assert second.killed == "r1" and second.errors == 0 and second.ok == 24
    assert second.per_replica["r1"] == 0 and second.per_replica["r2"] > 0 and second.per_replica["r3"] > 0
    assert second.retried >= 1, "at least one request was retried by nginx on another replica"
    # nginx logged why it skipped r1 (a refused connect, or a reset keep-alive connection).
    assert re.search(r"connect\(\) failed|recv\(\) failed|prematurely closed", result.nginx_errors), result.nginx_errors
    assert result.all_stopped
    for rep in result.replicas:
        with pytest.raises(ProcessLookupError):
            os.kill(rep["pid"], 0)
    assert not (tmp_path / "nginx.pid").exists() or not _pid_alive(int((tmp_path / "nginx.pid").read_text() or 0))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, ValueError):
        return False


def test_a_replica_that_cannot_start_shows_its_log(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        rs = replicas.ReplicaSet(1, tmp_path, ports=[port])
        with pytest.raises(replicas.ReplicaStartError, match="(?s)r1 exited with code 2.*cannot listen on 127.0.0.1"):
            try:
                rs.start()
            finally:
                rs.stop()
    assert rs.all_stopped


@needs_nginx
def test_nginx_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(SettingsError, match="already in use"):
            replicas.run_demo(2, 4, 10, kill_one=False, nginx_port=busy.getsockname()[1], workdir=tmp_path)


def test_missing_nginx_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(replicas, "nginx_path", lambda: None)
    with pytest.raises(replicas.NginxMissing, match="apt-get install nginx"):
        replicas.run_demo(2, 4, 10, kill_one=False, workdir=tmp_path)
    assert not replicas._LIVE, "the replicas started before the error were stopped"


def test_out_of_range_demo_settings():
    with pytest.raises(SettingsError, match="at least 2 replicas"):
        replicas.run_demo(1, 4, 10, kill_one=True)
    with pytest.raises(SettingsError, match="Requests"):
        replicas.run_demo(2, 100_000, 10)


# --- Replicate's stand-in: cog's own server --------------------------------------------------------------

def test_predict_py_runs_in_cogs_own_server(files):
    pytest.importorskip("cog")
    from labs.docker_mlops import cog_local

    from labs.docker_mlops import model

    tm = model.trained()
    pixels, label = tm.sample(7)
    out = cog_local.predict_locally(files["replicate/predict.py"], files["replicate/replica.py"],
                                    {"pixels": ",".join(str(int(v)) for v in pixels), "rounds": 50})
    assert out["health"]["status"] == "READY"
    assert out["response"]["status"] == "succeeded", out
    output = out["response"]["output"]
    expected = tm.model().predict_proba(pixels)[0]
    # setup() loaded the same weights: the same digit and (rounded) probabilities as in this process.
    assert output["digit"] == int(expected.argmax()) and output["device"] == "cpu"
    assert output["probabilities"] == pytest.approx(expected.tolist(), abs=1e-5)
    assert out["stopped"]


# --- Docker engine detection (fake `docker` CLIs on PATH) -------------------------------------------------

def _fake_docker(tmp_path, monkeypatch, script: str):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "docker"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_no_docker_cli(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    status = engine.cached_status(refresh=True)
    assert not status.engine and "not installed" in status.reason and "No Docker engine" in status.markdown()


def test_cli_without_a_daemon_is_no_engine(monkeypatch, tmp_path):
    _fake_docker(tmp_path, monkeypatch,
                 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1\n')
    status = engine.cached_status(refresh=True)
    assert not status.engine and "exited with code 1" in status.reason and "Cannot connect" in status.reason
    with pytest.raises(ValueError, match="No Docker engine here"):
        list(engine.stream(["docker", "build", "."]))


def test_engine_with_compose_streams_a_command(monkeypatch, tmp_path):
    _fake_docker(tmp_path, monkeypatch, 'case "$1" in info) echo 28.2.2;; compose) echo 2.39.1;; '
                                        '*) echo "step 1/2"; echo "step 2/2";; esac\n')
    status = engine.cached_status(refresh=True)
    assert status.engine and status.compose and status.version == "28.2.2"
    lines = list(engine.stream(["docker", "build", "x"]))
    assert lines == ["step 1/2", "step 2/2", "[exit code 0]"]
    assert engine.compose_up_command(Path("/c"), 4)[-2:] == ["--scale", "app=4"]
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_xyz")
    build = engine.build_command(Path("/ctx"), "a:1")
    assert "id=HF_TOKEN,env=HF_TOKEN" in build and not any("hf_secret" in part for part in build)
    monkeypatch.delenv("HF_TOKEN")
    assert "--secret" not in engine.build_command(Path("/ctx"), "a:1")


def test_detection_is_cached_for_a_minute(monkeypatch, tmp_path):
    calls = tmp_path / "calls"
    _fake_docker(tmp_path, monkeypatch, f'echo "$1" >> {calls}; case "$1" in info) echo 28.2.2;; '
                                        'compose) echo 2.39.1;; esac\n')
    assert engine.cached_status(refresh=True).engine
    assert calls.read_text().split() == ["info", "compose"]
    for _ in range(3):  # every Docker button checks first: within the minute, no new `docker info`
        assert engine.cached_status().engine
    list(engine.stream(["docker", "build", "x"]))
    assert calls.read_text().split() == ["info", "compose", "build"]
    monkeypatch.setattr(engine, "_cache", (engine._cache[0] - engine.CACHE_SECONDS - 1, engine._cache[1]))
    engine.cached_status()  # older than CACHE_SECONDS: checked again
    assert calls.read_text().split() == ["info", "compose", "build", "info", "compose"]


# --- publishing (HfApi mocked: no network) ----------------------------------------------------------------

TOKEN = "hf_TestTokenValue123456"


class FakeApi:
    calls: list = []
    fail: Exception | None = None

    def __init__(self, token):
        FakeApi.calls.append(("init", token))

    def create_repo(self, repo_id, **kwargs):
        if FakeApi.fail:
            raise FakeApi.fail
        FakeApi.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        FakeApi.calls.append(("upload_folder", kwargs))


@pytest.fixture
def space_folder(tmp_path):
    files = templates.generate_files(S, title="tiny-model")
    zip_path = bundle.write_bundle(files, tmp_path / "bundle")
    FakeApi.calls, FakeApi.fail = [], None
    return zip_path.with_suffix("") / "docker-space"


def test_publish_creates_a_docker_space_and_uploads_it(space_folder):
    done = publish.publish(space_folder, "someone/tiny-model", TOKEN, sdk="docker", api_factory=FakeApi)
    assert done.url == "https://huggingface.co/spaces/someone/tiny-model" and done.files >= 3
    assert FakeApi.calls[0] == ("init", TOKEN)
    assert FakeApi.calls[1] == ("create_repo", "someone/tiny-model",
                                {"repo_type": "space", "space_sdk": "docker", "private": True, "exist_ok": True})
    assert FakeApi.calls[2][1]["folder_path"] == str(space_folder) and FakeApi.calls[2][1]["repo_type"] == "space"
    assert TOKEN not in repr(done)


@pytest.mark.parametrize("exc,words", [
    (ConnectionError(f"Max retries exceeded (token={TOKEN})"), "could not reach huggingface.co"),
    (RuntimeError(f"401 Client Error: Unauthorized for {TOKEN}"), "rejected the token"),
])
def test_publish_failures_are_explained_and_never_show_the_token(space_folder, exc, words):
    FakeApi.fail = exc
    with pytest.raises(publish.PublishError) as info:
        publish.publish(space_folder, "someone/tiny-model", TOKEN, api_factory=FakeApi)
    assert words in str(info.value) and TOKEN not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_publish_checks_its_input_first(space_folder):
    with pytest.raises(publish.PublishError, match="No token"):
        publish.publish(space_folder, "someone/x", "  ", api_factory=FakeApi)
    with pytest.raises(SettingsError, match="owner/name"):
        publish.publish(space_folder, "not-an-id", TOKEN, api_factory=FakeApi)
    with pytest.raises(publish.PublishError, match="sdk: gradio"):
        publish.publish(space_folder, "someone/x", TOKEN, sdk="gradio", api_factory=FakeApi)
    assert FakeApi.calls == [], "nothing was sent"


def test_real_hfapi_offline_gives_a_clear_message(space_folder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(publish.PublishError) as info:
        publish.publish(space_folder, "someone/tiny-model", TOKEN)
    assert "Could not publish someone/tiny-model" in str(info.value) and TOKEN not in str(info.value)


class FakeRun:
    """Stands in for subprocess.run at the boundary: records the call, answers like spaces/export.py."""

    def __init__(self, returncode=0, stdout="", stderr=""):
        self.calls, self.result = [], (returncode, stdout, stderr)

    def __call__(self, args, **kwargs):
        self.calls.append((args, kwargs))
        Path(args[args.index("--out") + 1]).mkdir(parents=True, exist_ok=True)
        Path(args[args.index("--out") + 1], "app.py").write_text("demo")
        return __import__("subprocess").CompletedProcess(args, *self.result)


def test_publish_lab_runs_spaces_export_with_the_token_in_the_environment_only(tmp_path):
    FakeApi.calls, FakeApi.fail = [], None
    run = FakeRun(stdout="Wrote the Space for png_to_glb to x\nPushed: https://huggingface.co/spaces/someone/glb\n")
    done = publish.publish_lab("png_to_glb", "someone/glb", TOKEN, out=tmp_path / "out", api_factory=FakeApi, run=run)
    (args, kwargs), = run.calls
    assert args[1:] == [str(bundle.EXPORT_SCRIPT), "png_to_glb", "--out", str(tmp_path / "out"),
                        "--push", "someone/glb"]
    assert not any(TOKEN in part for part in args), "the token never goes on the command line"
    assert kwargs["env"]["HF_TOKEN"] == TOKEN and kwargs["cwd"] == bundle.REPO_ROOT
    # Private (the default): created private first, so export.py's create_repo(exist_ok=True) reuses it.
    assert FakeApi.calls == [("init", TOKEN), ("create_repo", "someone/glb", {"repo_type": "space", "space_sdk": "gradio",
                                                                            "private": True, "exist_ok": True})]
    assert done.url == "https://huggingface.co/spaces/someone/glb" and done.sdk == "gradio" and done.files == 1
    FakeApi.calls = []
    publish.publish_lab("png_to_glb", "someone/glb", TOKEN, out=tmp_path / "out2", private=False, api_factory=FakeApi,
                        run=FakeRun(stdout="Pushed: https://huggingface.co/spaces/someone/glb"))
    assert FakeApi.calls == [], "a public Space is created by spaces/export.py alone"


def test_publish_lab_failure_is_explained_and_scrubbed(tmp_path):
    run = FakeRun(returncode=1, stderr=f"Could not push to the Space someone/glb: ConnectError: [Errno -3] "
                                       f"(token {TOKEN})\nCheck your network, the Space name (OWNER/NAME) and ...")
    with pytest.raises(publish.PublishError) as info:
        publish.publish_lab("png_to_glb", "someone/glb", TOKEN, out=tmp_path / "out", private=False, run=run)
    assert "could not reach huggingface.co" in str(info.value) and "spaces/export.py said" in str(info.value)
    assert TOKEN not in str(info.value) and "***" in str(info.value)


def test_publish_lab_without_the_repository_layout(monkeypatch, tmp_path):
    monkeypatch.setattr(bundle, "EXPORT_SCRIPT", tmp_path / "missing" / "export.py")
    run = FakeRun()
    with pytest.raises(publish.PublishError, match="exported Space"):
        publish.publish_lab("png_to_glb", "someone/glb", TOKEN, out=tmp_path / "out", private=False, run=run)
    assert run.calls == []


# --- the dated comparison ---------------------------------------------------------------------------------

def test_comparison_is_dated_and_complete():
    rows = compare.comparison_rows()
    assert len(rows) == 4 and all(len(r) == len(compare.COLUMNS) for r in rows)
    assert compare.PRICES_CHECKED in compare.comparison_note() and "$" in rows[0][1] and "$" in rows[1][1]


def test_logic_modules_do_not_import_gradio():
    folder = Path(templates.__file__).parent
    for path in folder.glob("*.py"):
        if path.name != "app.py":
            assert "import gradio" not in path.read_text(encoding="utf-8"), path.name
