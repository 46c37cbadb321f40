"""workshop.py: `doctor` names what is missing with the command that fixes it; `prefetch` plans the
hub downloads with sizes against a hub API served on 127.0.0.1, and says what to do when offline."""

import io
import json
import subprocess
import sys
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import workshop
from labs import LABS, get

ROOT = Path(__file__).resolve().parents[1]
SIBLINGS = [
    {"rfilename": "config.json", "size": 700},
    {"rfilename": "model.safetensors", "size": 90_000_000},
    {"rfilename": "pytorch_model.bin", "size": 90_000_000},
    {"rfilename": "tokenizer.json", "size": 700_000},
    {"rfilename": "onnx/model.onnx", "size": 90_000_000},
    {"rfilename": "README.md", "size": 9000},
]


def test_model_files_take_one_copy_of_the_weights():
    picked = dict(workshop.model_files([(s["rfilename"], s["size"]) for s in SIBLINGS]))
    assert picked == {"config.json": 700, "model.safetensors": 90_000_000, "tokenizer.json": 700_000}
    legacy = dict(workshop.model_files([("config.json", 1), ("pytorch_model.bin", 5), ("tf_model.h5", 5)]))
    assert legacy == {"config.json": 1, "pytorch_model.bin": 5}, "no safetensors: PyTorch's .bin"


def test_doctor_names_what_is_missing_and_the_fixing_command(monkeypatch):
    lab = replace(get("docker_mlops"), needs=("definitely_not_installed_xyz",), apt=("no-such-tool-xyz",))
    monkeypatch.setattr(workshop, "cached_model", lambda repo: False)
    out = io.StringIO()
    found = workshop.doctor([lab, get("png_to_glb")], online=False, out=out)
    text = out.getvalue()
    assert [f.status for f in found] == ["missing", "offline defaults"]
    assert "Python packages: definitely_not_installed_xyz" in text
    assert "-r requirements/docker_mlops.txt" in text and "sudo apt-get install -y no-such-tool-xyz" in text
    assert "python workshop.py prefetch --labs png_to_glb" in text
    assert "0 of 2 labs ready here, 1 on offline defaults" in text


def test_doctor_cli_lists_every_lab():
    out = subprocess.run([sys.executable, "workshop.py", "doctor", "--offline"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode in (0, 1), out.stderr
    for lab in LABS:
        assert lab.slug in out.stdout
    assert "labs ready here" in out.stdout and "Traceback" not in out.stderr


class FakeHub(BaseHTTPRequestHandler):
    """The two hub API calls prefetch's plan makes: the probe and model_info(files_metadata=True)."""

    def do_HEAD(self):
        self.send_response(200)
        self.end_headers()

    def do_GET(self):
        repo = self.path.split("?")[0].removeprefix("/api/models/")
        body = json.dumps({"id": repo, "modelId": repo, "sha": "0" * 40, "siblings": SIBLINGS}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_prefetch_dry_run_plans_each_model_with_its_size(fake_hub, monkeypatch, capsys):
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_ENDPOINT", fake_hub)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", fake_hub)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    lab = replace(get("png_to_glb"), preload=("org/one", "org/two"))
    assert workshop.prefetch([lab], system=False, dry_run=True) == 0
    text = capsys.readouterr().out
    assert "2 hub models, 181.4 MB in all" in text
    assert "[1/2] org/one: 3 files, 90.7 MB" in text and "[2/2] org/two" in text


def test_prefetch_offline_says_to_run_it_online(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert workshop.prefetch([get("png_to_glb")], system=False, dry_run=True) == 1
    assert "run prefetch while online" in capsys.readouterr().out


def test_deploy_files_are_committed_current_and_pass_the_linters(tmp_path):
    from labs.docker_mlops import suite_deploy

    files = suite_deploy.generate(3, 10)
    for name, text in files.items():  # deploy/ is what `workshop.py deploy` writes today
        assert (ROOT / "deploy" / name).read_text(encoding="utf-8") == text, \
            f"deploy/{name} is stale: run .venv/bin/python workshop.py deploy"
    findings = suite_deploy.lint(files, 3)
    errors = [f"{f.file} {f.tool}: {f.message}" for f in findings if f.level == "error"]
    assert not errors, errors
    tools = {f.tool for f in findings if f.level == "ok"}
    assert {"check-jsonschema", "kubernetes-validate", "KEDA models", "read back"} <= tools
    conf = files["nginx.conf"]
    assert "hash $affinity consistent;" in conf and "proxy_buffering off;" in conf
    k8s = files["k8s.yaml"]
    assert "nginx.ingress.kubernetes.io/affinity: cookie" in k8s and "runAsUser: 1000" in k8s


def test_deploy_refuses_impossible_replica_counts():
    from labs.docker_mlops import suite_deploy

    with pytest.raises(ValueError, match="replicas must be"):
        suite_deploy.generate(0, 10)
    with pytest.raises(ValueError, match="replicas must be"):
        suite_deploy.generate(5, 3)
