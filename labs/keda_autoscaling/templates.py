"""Generators for everything the deployment needs, all rendered from one `DeploySettings`.

The deployable app (`app.py`, `requirements.txt`, `Dockerfile`) is rendered here; the Azure resources in
three equivalent forms (Azure CLI script, Bicep, Python with the Azure management SDK) in
`azure_templates.py`, and the Kubernetes/KEDA variant for AKS (Deployment, Service, the HTTP
add-on's `InterceptorRoute` and a KEDA `ScaledObject`) in `k8s_templates.py`. Names reach these templates only after `settings.check_settings` has matched
them against Azure's naming rules, so nothing typed in the UI can break out of a quoted string.

The pipeline they describe: build the image in Azure Container Registry (`az acr build`, no local
Docker needed), pull it with a managed identity that holds AcrPull (no registry passwords), run it
in a Container Apps environment that logs to Log Analytics, and let KEDA's HTTP rule scale it
between min and max replicas by concurrent requests.
"""

from __future__ import annotations

import io
import shutil
import time
import uuid
import zipfile
from pathlib import Path

from labs.keda_autoscaling.azure_templates import render_bicep, render_cli_script, render_sdk_script
from labs.keda_autoscaling.k8s_templates import KEDA_HTTP_SCALER, render_k8s_app, render_k8s_keda
from labs.keda_autoscaling.settings import DeploySettings

__all__ = ["FILES", "KEDA_HTTP_SCALER", "generate_bundle", "new_bundle_folder", "render_app_py", "render_bicep",
           "render_cli_script", "render_dockerfile", "render_k8s_app", "render_k8s_keda", "render_requirements",
           "render_sdk_script", "write_bundle"]

GRADIO_PIN = "gradio==6.31.0"


def render_app_py(s: DeploySettings) -> str:
    """The deployable app: a Gradio UI plus /healthz and a /work endpoint that 'waits' like a slow backend."""
    return f'''"""{s.app}: a small Gradio app that scales on Azure Container Apps by concurrent HTTP requests.

Routes: /healthz (probes), /work?ms=N (one "web wait": holds the request N ms, like a call to a slow
backend or a model), and the Gradio UI at /. Run it locally with `python app.py`.
"""

import asyncio
import os
import socket
import time

import gradio as gr
import uvicorn
from fastapi import FastAPI

PORT = int(os.environ.get("PORT", "{s.port}"))
HOST = os.environ.get("HOST", "0.0.0.0")  # 0.0.0.0 inside the container so ingress can reach it
WORK_MS = int(os.environ.get("WORK_MS", "{s.work_ms}"))
MAX_WORK_MS = 10_000  # one request can hold a replica for at most 10 s
REPLICA = os.environ.get("CONTAINER_APP_REPLICA_NAME", socket.gethostname())
STARTED = time.time()
in_flight = 0  # concurrent requests on this replica: the number KEDA's HTTP rule scales on

app = FastAPI(title="{s.app}")


@app.get("/healthz")
def healthz() -> dict:
    """Liveness/readiness probe target: cheap, never waits."""
    return {{"status": "ok", "replica": REPLICA, "uptime_s": round(time.time() - STARTED, 1)}}


@app.get("/work")
async def work(ms: int = WORK_MS) -> dict:
    """One web wait: the request stays open `ms` milliseconds without using CPU."""
    global in_flight
    ms = max(0, min(int(ms), MAX_WORK_MS))
    in_flight += 1
    try:
        await asyncio.sleep(ms / 1000)
    finally:
        in_flight -= 1
    return {{"waited_ms": ms, "replica": REPLICA, "in_flight": in_flight}}


def wait_once(ms: float) -> str:
    """What the button does: one web wait, timed."""
    start = time.perf_counter()
    time.sleep(max(0.0, min(float(ms), MAX_WORK_MS)) / 1000)
    return f"Waited {{(time.perf_counter() - start) * 1000:.0f}} ms on replica {{REPLICA}}."


with gr.Blocks(title="{s.app}") as demo:
    gr.Markdown("# {s.app}\\nEach click holds one request open; many at once make Container Apps add replicas.")
    ms_box = gr.Slider(0, MAX_WORK_MS, value=WORK_MS, step=50, label="Wait (ms)")
    out = gr.Textbox(label="Result")
    gr.Button("Wait").click(wait_once, ms_box, out, api_name="wait")

demo.queue(default_concurrency_limit=64)
app = gr.mount_gradio_app(app, demo, path="/")

if __name__ == "__main__":
    uvicorn.run(app, host=HOST, port=PORT, log_level="info")
'''


def render_requirements(s: DeploySettings) -> str:
    """Pinned gradio (same as this suite), plus the server pieces app.py imports directly."""
    return f"{GRADIO_PIN}\nfastapi>=0.115\nuvicorn>=0.30\n"


def render_dockerfile(s: DeploySettings) -> str:
    """A slim, non-root image with a health check. Container Apps uses the probes in Bicep/CLI; the
    HEALTHCHECK serves `docker run` and other hosts."""
    return f'''# syntax=docker/dockerfile:1
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    GRADIO_ANALYTICS_ENABLED=False \\
    PORT={s.port}

WORKDIR /app

# A system user without a login shell: the app never needs root. A numeric id lets Kubernetes'
# runAsNonRoot verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 app \\
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app

# Dependencies first, so code changes do not rebuild this layer.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=10001:10001 app.py .

USER 10001:10001
EXPOSE {s.port}

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \\
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '{s.port}') + '/healthz', timeout=2)"]

CMD ["python", "app.py"]
'''


# file name -> (renderer, language for display)
FILES = {
    "app.py": (render_app_py, "python"),
    "requirements.txt": (render_requirements, None),
    "Dockerfile": (render_dockerfile, "dockerfile"),
    "deploy_aca.sh": (render_cli_script, "shell"),
    "main.bicep": (render_bicep, None),
    "deploy_aca.py": (render_sdk_script, "python"),
    "k8s-app.yaml": (render_k8s_app, "yaml"),
    "keda-http.yaml": (render_k8s_keda, "yaml"),
}


def generate_bundle(s: DeploySettings) -> dict[str, str]:
    """Render every file for `s`: {file name: text}."""
    return {name: render(s) for name, (render, _) in FILES.items()}


KEEP_S = 3600  # generated bundles are kept an hour: long enough to download, short enough not to pile up


def new_bundle_folder(root: str | Path | None = None, *, keep_s: float = KEEP_S, now: float | None = None) -> Path:
    """A fresh, uniquely named folder under ``root`` for one generation; folders older than ``keep_s`` are
    deleted first.

    ``root`` defaults to this lab's private scratch root (`shared.scratch.root_for`: one per OS user,
    mode 0700, never a link another user planted in the shared temp folder).
    """
    if root is None:
        from shared.scratch import root_for

        root = root_for("keda_autoscaling")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    now = time.time() if now is None else now
    for entry in root.iterdir():
        try:
            if entry.is_dir() and now - entry.stat().st_mtime > keep_s:
                shutil.rmtree(entry, ignore_errors=True)
        except FileNotFoundError:  # removed by a concurrent request
            pass
    folder = root / f"aca-keda-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    return folder


def write_bundle(files: dict[str, str], folder: str | Path) -> Path:
    """Write the files into `folder` and a zip of them beside; return the zip's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(0o755)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(f"aca-keda/{name}")
            info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
            zf.writestr(info, text)
    zip_path = folder / "aca-keda-bundle.zip"
    zip_path.write_bytes(buffer.getvalue())
    return zip_path
