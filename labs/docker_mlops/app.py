"""Lab 9 · Docker MLOps: one app to Spaces, Replicate, Compose + nginx and Kubernetes (UI only)."""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import gradio as gr

from labs import LABS, get
from labs.docker_mlops import (bundle, cog_local, compare, engine, lint, model, predictions, publish, replica, replicas,
                                templates)
from labs.docker_mlops.settings import (DEFAULT_PYTHON, DEFAULT_REPLICAS, DEFAULT_REQUESTS, DEFAULT_ROUNDS,
                                        DEFAULT_TORCH, MAX_REPLICAS, MAX_REQUESTS, MAX_ROUNDS, MIN_REPLICAS,
                                        MIN_REQUESTS, PYTHON_VERSIONS, SMALL_APP, TORCH_CUDA, K8S_NAME_RE, BuildSettings,
                                        SettingsError, check_settings, newest_cuda)
from shared import scratch
from shared.serving import operator_only
from shared.ui import HEAVY, code_panel, friendly, header, missing_banner, serve

LAB = get("docker_mlops")
SLUG = LAB.slug
D = BuildSettings()

EXPORT_OK, EXPORT_WHY = bundle.can_export()
SOURCES = [("Small app: the lab's digits model served by replica.py (NumPy; /predict, /healthz)", SMALL_APP)]
if EXPORT_OK:
    SOURCES += [(f"Lab {lab.number}: {lab.title}", lab.slug) for lab in LABS]
KNOWN_SOURCES = tuple(value for _, value in SOURCES)
# App name -> the compose folder its last `compose up` used. Kept in this process's memory, not in a
# shared temp path that another user or process could read or plant.
COMPOSE_DIRS: dict[str, Path] = {}
# Generated bundles live in per-click scratch folders under the lab's root; folders older than this are
# pruned when a new one is made (except those of a live `compose up`, see `_new_folder`).
KEEP_S = 3600.0

WHERE = f"""**What is deployed.** A real model: an MLP for 8x8 handwritten digits that this lab trains itself (about a
second, scikit-learn's digits, a quarter held out), saved as safetensors and served by `replica.py` with NumPy alone;
every target (Docker Space, Compose, Kubernetes, Replicate) ships the weights and loads them at start.
**What runs where.** No Docker engine, cloud account or internet is needed.
*Real on this machine:* every generated file is checked by the real tools (hadolint, the Compose Specification
schema via check-jsonschema, `nginx -t`, kubernetes-validate, cog's own predictor inspector); the replicas are
real processes behind a **real nginx** on 127.0.0.1; Replicate's stand-in is **cog's own HTTP server** running
the generated `predict.py`. *Would run elsewhere:* `docker build` / `docker compose up --scale` (only with a Docker
engine: tab 3 checks for one and disables those buttons without it), `cog push` to Replicate,
`kubectl apply`, and publishing to Hugging Face (needs a token and internet).
{'' if EXPORT_OK else f'*Exporting other labs is off:* {EXPORT_WHY}.'}"""


def _settings(source, name, image, tag, n, python, torch, cuda, gpu, secret) -> BuildSettings:
    return check_settings(name=name, image=image, tag=tag, source=source, replicas=n, python=python, torch=torch,
                          cuda=cuda, gpu=gpu, build_secret=secret, rounds=DEFAULT_ROUNDS, known_sources=KNOWN_SOURCES)


def _new_folder() -> Path:
    """A fresh scratch folder for one click; old ones are pruned, but not those `compose down` still needs."""
    root = scratch.root_for(SLUG)
    for compose_dir in COMPOSE_DIRS.values():  # <root>/docker-mlops-XXXX/<name>/compose: touch the top folder
        top = compose_dir.parents[1]
        if top.parent == root and top.is_dir():
            os.utime(top)
    return scratch.new_folder(SLUG, prefix="docker-mlops-", keep_s=KEEP_S)


def _bundle(s: BuildSettings) -> tuple[dict[str, str], Path]:
    lab = None if s.is_small_app else get(s.source)
    return bundle.build_bundle(s, _new_folder(), lab)


@friendly
def generate(source, name, image, tag, n, python, torch, cuda, gpu, secret, progress=gr.Progress()):
    """Check the settings, write every file, run every linter on them."""
    s = _settings(source, name, image, tag, n, python, torch, cuda, gpu, secret)
    progress(0.05, desc="rendering files" + ("" if s.is_small_app else f" and exporting {s.source}"))
    files, zip_path = _bundle(s)
    findings = lint.lint_bundle(files, s, progress=lambda f, m: progress(0.15 + 0.85 * f, desc=m))
    counts = lint.summarize(findings)
    verdict = "✅ every check passed" if not counts["error"] else f"❌ {counts['error']} check(s) failed"
    what = ("the small app (`replica.py` serving the lab's digits model)" if s.is_small_app else
            f"lab `{s.source}` (Gradio Space exported by spaces/export.py into `gradio-space/`, "
            "the same folder plus a Dockerfile in `docker-space/`)")
    summary = (f"**{verdict}** · {counts['ok']} ok, {counts['warning']} warnings, {counts['skipped']} skipped. "
               f"Packaged {what} as image `{s.full_image}`: {s.replicas} replicas in Compose and Kubernetes; "
               f"cog image {'GPU, CUDA ' + s.cuda if s.gpu else 'CPU'} with torch {s.torch}."
               + (f"\n\n{_model_line()} Its weights are in `docker-space/` and `replicate/`." if s.is_small_app else ""))
    return (summary, [f.row() for f in findings], str(zip_path), *[files[name] for name in templates.SHOWN])


def cuda_choices(torch):
    """The CUDA versions PyTorch built `torch` for; the newest is selected."""
    if torch not in TORCH_CUDA:
        raise SettingsError(f"Unknown torch version {torch!r}; pick one of: {', '.join(TORCH_CUDA)}.")
    return gr.Dropdown(choices=list(TORCH_CUDA[torch]["cuda"]), value=newest_cuda(torch))


@friendly
def run_cog(source, name, image, tag, n, python, torch, cuda, gpu, secret, text, rounds, progress=gr.Progress()):
    """Serve the generated predict.py with cog's own HTTP server (Replicate's runtime) and predict one digit."""
    s = _settings(source, name, image, tag, n, python, torch, cuda, gpu, secret)
    if rounds is None:
        raise SettingsError("The rounds field is empty: type a value (0 for no extra CPU work) and run again.")
    pixels = str(text or "").strip() or templates.sample_pixels()  # empty: held-out sample 0
    cog_local.check_inputs(pixels, rounds)
    files = templates.generate_files(s, title=s.name)
    progress(0.1, desc="starting cog's HTTP server (python -m cog.server.http) with predict.py and the weights")
    out = cog_local.predict_locally(files["replicate/predict.py"], files["replicate/replica.py"],
                                    {"pixels": pixels, "rounds": rounds}, weights=model.trained().weights)
    response = out["response"]
    status = response.get("status")
    if status == "succeeded":
        result = response.get("output", {})
        probabilities = result.get("probabilities") or [0]
        head = (f"✅ **cog's server answered** `POST /predictions` → `{status}` in "
                f"{response.get('metrics', {}).get('predict_time', 0) * 1000:.1f} ms: digit **{result.get('digit')}** "
                f"(p = {max(probabilities):.3f}), device **{result.get('device')}**; setup() loaded the weights "
                f"`{replica.WEIGHTS_NAME}` once.")
    else:
        head = f"❌ **The prediction failed** (`{status}`): {response.get('error', '')}"
    note = (f"{head} Server stopped: {out['stopped']}. Local stand-in: no `cog build` ran, so cog's server has no "
            "OpenAPI schema and does not enforce the Input(...) bounds; on Replicate they are checked before predict().")
    return note, json.dumps(response, indent=2), out["log"]


def _model_line() -> str:
    tm = model.trained()
    return (f"Model: an MLP for 8x8 digits (`{replica.WEIGHTS_NAME}`, {len(tm.weights) / 1024:.0f} KB), trained here "
            f"in {tm.train_s:.1f} s on {tm.n_train} images; held-out accuracy **{tm.accuracy:.3f}** on {tm.n_test} "
            "images it never saw.")


def _answer(pixels, n, label: int | None, progress):
    progress(0.1, desc=f"starting {int(n)} replicas behind nginx, each loading the weights")
    a = predictions.predict_digit(pixels, replicas=int(n))
    route = (f"answered by replica **{a.replica}** through nginx (upstream {a.upstream})" if a.via_nginx else
             f"answered by replica **{a.replica}** directly (nginx is not installed: `apt-get install nginx`)")
    truth = "" if label is None else f" True label: **{label}** ({'✅ right' if label == a.digit else '❌ wrong'})."
    text = (f"Prediction: **{a.digit}** (p = {max(a.probabilities):.3f}), {route}; the same model in this process "
            f"says **{a.in_process}**.{truth} All processes stopped: **{a.all_stopped}**.\n\n{_model_line()}")
    return (model.digit_picture(pixels), text,
            {str(d): float(p) for d, p in enumerate(a.probabilities)})


@friendly
def predict_sample(index, n, progress=gr.Progress()):
    """One held-out digit through fresh replicas behind nginx."""
    index = replicas.check_int("The sample number", index, 0, model.trained().n_test - 1)
    pixels, label = model.trained().sample(index)
    return _answer(pixels, n, label, progress)


@friendly
def predict_drawing(sketch, n, progress=gr.Progress()):
    """A drawn digit, shrunk to the dataset's 8x8 form, through fresh replicas behind nginx."""
    composite = (sketch or {}).get("composite") if isinstance(sketch, dict) else sketch
    if composite is None:
        raise ValueError("Nothing is drawn yet. Draw a digit with thick strokes, then click Predict.")
    return _answer(model.pixels_from_image(composite), n, None, progress)


def example_values(examples: list, i: int) -> list:
    """The input values of example `i`."""
    return list(examples[i][1])


def _bars(counts: dict[str, int]) -> str:
    top = max(counts.values() or [1]) or 1
    return "  \n".join(f"`{name:>3}` {'█' * round(20 * c / top)} {c}" for name, c in counts.items())


@friendly
def run_replicas(n, requests, rounds, concurrency, kill_one, port, progress=gr.Progress()):
    """N replica processes behind a real nginx; optionally kill one and show nginx routing around it."""
    result = replicas.run_demo(int(n), int(requests), int(rounds), kill_one=bool(kill_one),
                               concurrency=int(concurrency), nginx_port=int(port or 0),
                               progress=lambda f, m: progress(f, desc=m))
    listing = ", ".join(f"{r['name']} :{r['port']}" for r in result.replicas)
    parts = [f"**nginx on 127.0.0.1:{result.nginx_port}** in front of {len(result.replicas)} replica processes "
             f"({listing})."]
    for phase in result.phases:
        s = phase.summary()
        skipped = (f" ({s['not_sent']} not sent: the run reached its time budget; lower the requests or rounds)"
                   if s["not_sent"] else "")
        parts.append(f"**{phase.title}:** {s['ok']}/{s['requests']} answered, {s['errors']} errors{skipped}, "
                     f"{s['retried_by_nginx']} retried by nginx on another replica; p50 {s['p50_ms']} ms, "
                     f"p95 {s['p95_ms']} ms, {s['requests_per_s']} requests/s.\n\n{_bars(s['per_replica'])}")
    if result.phases and result.phases[-1].killed:
        last = result.phases[-1]
        parts.append(f"Replica **{last.killed}** was killed with SIGKILL; nginx's `proxy_next_upstream` retried the "
                     f"requests it could not connect to on the next replica and `max_fails=1` kept {last.killed} out "
                     f"of the rotation, so clients saw {last.errors} errors.")
    if result.held_out is not None:
        parts.insert(1, result.held_out.line())
    parts.append(f"All processes stopped: **{result.all_stopped}**.")
    rows_replicas = [[r["name"], r["port"], r["pid"], *[p.per_replica.get(r["name"], 0) for p in result.phases]]
                     for r in result.replicas]
    rows_shots = [[p.title, s.index, s.status, s.replica, s.upstream, round(s.latency_ms, 1)]
                  for p in result.phases for s in p.shots]
    headers = ["replica", "port", "pid", *[p.title for p in result.phases]]
    return ("\n\n".join(parts), gr.Dataframe(value=rows_replicas, headers=headers), rows_shots,
            result.nginx_errors or "(no upstream errors logged)", result.nginx_conf)


def _engine_outputs(status: engine.EngineStatus):
    on = gr.Button(interactive=status.engine)
    compose = gr.Button(interactive=status.engine and status.compose)
    return status.markdown(), on, compose, compose


def engine_status():
    """Run `docker info` now; enable the Docker buttons only when an engine answers."""
    return _engine_outputs(engine.cached_status(refresh=True))


def engine_status_cached():
    """After a Docker button: show what its own check found (reused for a minute, no new probe)."""
    return _engine_outputs(engine.cached_status())


@friendly
def docker_build(source, name, image, tag, n, python, torch, cuda, gpu, secret):
    """`docker build` the Docker Space folder, streaming the log."""
    operator_only("building images on this server's Docker engine")
    s = _settings(source, name, image, tag, n, python, torch, cuda, gpu, secret)
    _, zip_path = _bundle(s)
    folder = zip_path.with_suffix("")
    log = f"$ {' '.join(engine.build_command(folder / 'docker-space', s.full_image))}\n"
    for line in engine.stream(engine.build_command(folder / "docker-space", s.full_image)):
        log += line + "\n"
        yield log


@friendly
def compose_up(source, name, image, tag, n, python, torch, cuda, gpu, secret):
    """`docker compose up -d --build --scale app=N`, streaming the log."""
    operator_only("starting containers on this server's Docker engine")
    s = _settings(source, name, image, tag, n, python, torch, cuda, gpu, secret)
    _, zip_path = _bundle(s)
    compose_dir = zip_path.with_suffix("") / "compose"
    COMPOSE_DIRS[s.name] = compose_dir
    log = ""
    for line in engine.stream(engine.compose_up_command(compose_dir, s.replicas), cwd=compose_dir):
        log += line + "\n"
        yield log


@friendly
def compose_down(name):
    """`docker compose down` for the project the last "up" started."""
    operator_only("stopping containers on this server's Docker engine")
    if not K8S_NAME_RE.match(str(name or "")):
        raise SettingsError(f"App name {name!r} must be a DNS label such as 'tiny-model' (see tab 1).")
    compose_dir = COMPOSE_DIRS.get(name)
    if compose_dir is None or not compose_dir.is_dir():
        raise ValueError(f"Nothing to stop: no `compose up` of {name!r} was run from this lab since it started.")
    log = ""
    for line in engine.stream(engine.compose_down_command(compose_dir), cwd=compose_dir):
        log += line + "\n"
        yield log


@friendly
def publish_space(source, name, image, tag, n, python, torch, cuda, gpu, secret, repo_id, token, sdk, private,
                  progress=gr.Progress()):
    """Publish a Docker Space (huggingface_hub) or a lab as a Gradio Space (spaces/export.py --push); the token is
    used, never shown."""
    s = _settings(source, name, image, tag, n, python, torch, cuda, gpu, secret)
    if sdk == "gradio" and s.is_small_app:
        raise SettingsError("The small app is not a Gradio app: pick a lab of the suite in tab 1 to publish a Gradio "
                            "Space, or publish the small app as a Docker Space.")
    publish.check_repo_id_and_token(repo_id, token)
    if sdk == "gradio":  # the suite's own tool exports and pushes the lab: spaces/export.py --push
        progress(0.2, desc=f"spaces/export.py {s.source} --push {repo_id.strip()}")
        out = _new_folder() / "gradio-space"
        done = publish.publish_lab(s.source, repo_id, token, out=out, private=bool(private))
    else:  # a Docker Space: no export script applies, so huggingface_hub directly
        progress(0.2, desc="generating the Space folder")
        _, zip_path = _bundle(s)
        progress(0.5, desc=f"uploading to {repo_id.strip()}")
        done = publish.publish(zip_path.with_suffix("") / "docker-space", repo_id, token, sdk=sdk,
                               private=bool(private))
    return (f"✅ Published {done.files} files as a {'private ' if private else ''}{done.sdk} Space: "
            f"[{done.url}]({done.url}). Hugging Face builds it now; watch the build logs on the Space page.")


CODE_FOR = {
    "docker-space/Dockerfile": "dockerfile", "docker-space/README.md": "markdown", "replicate/cog.yaml": "yaml",
    "replicate/predict.py": "python", "compose/compose.yaml": "yaml", "compose/nginx.conf": "shell",
    "k8s/k8s.yaml": "yaml", "README.md": "markdown",
}
GEN_EXAMPLES = [
    ("Small app, 3 replicas, GPU cog image", [SMALL_APP, "tiny-model", "tiny-model", "0.1.0", 3, DEFAULT_PYTHON,
                                              DEFAULT_TORCH, newest_cuda(DEFAULT_TORCH), True, True]),
    ("Small app, 5 replicas, CPU cog image, torch 2.5.1", [SMALL_APP, "hash-api", "ghcr.io/you/hash-api", "1.2.0", 5,
                                                           "3.12", "2.5.1", "12.4", False, False]),
]
if EXPORT_OK:
    GEN_EXAMPLES.append(("Lab 10 (PNG to GLB) as Gradio + Docker Space", ["png_to_glb", "png-to-glb", "png-to-glb",
                                                                          "0.1.0", 2, DEFAULT_PYTHON, DEFAULT_TORCH,
                                                                          newest_cuda(DEFAULT_TORCH), True, True]))
REPLICA_EXAMPLES = [
    ("3 replicas, kill one", [3, DEFAULT_REQUESTS, DEFAULT_ROUNDS, 4, True, 0]),
    ("1 replica vs the same load", [1, DEFAULT_REQUESTS, DEFAULT_ROUNDS, 4, False, 0]),
    ("6 replicas, heavy requests, kill one", [6, 48, 100_000, 6, True, 0]),
]

with gr.Blocks(title=LAB.title) as demo:
    header(LAB, extra=WHERE)
    missing_banner(LAB)
    with gr.Tabs():
        with gr.Tab("1 · Generate & lint"):
            gr.Markdown("Pick what to package and how; get a Docker Space, a Replicate (cog) model, a Compose file with "
                        "N replicas behind nginx and the Kubernetes manifests: **one image for every target**, each "
                        "file checked by a real linter.")
            with gr.Row():
                g_source = gr.Dropdown(SOURCES, value=SMALL_APP, label="App to package", scale=3)
                g_name = gr.Textbox(D.name, label="App name (DNS label)")
                g_image = gr.Textbox(D.image, label="Image name")
                g_tag = gr.Textbox(D.tag, label="Tag")
            with gr.Row():
                g_n = gr.Slider(MIN_REPLICAS, MAX_REPLICAS, value=DEFAULT_REPLICAS, step=1, label="Replicas")
                g_py = gr.Dropdown(list(PYTHON_VERSIONS), value=DEFAULT_PYTHON, label="Python")
                g_torch = gr.Dropdown(list(TORCH_CUDA), value=DEFAULT_TORCH, label="torch (cog image)")
                # The choices follow torch (cuda_choices), but an API call may name any torch with one of its
                # own CUDA builds in one request: check_torch_cuda checks the pair, not the starting choices.
                g_cuda = gr.Dropdown(list(TORCH_CUDA[DEFAULT_TORCH]["cuda"]), value=newest_cuda(DEFAULT_TORCH),
                                     label="CUDA (builds of that torch)", allow_custom_value=True)
                g_gpu = gr.Checkbox(D.gpu, label="GPU image on Replicate")
                g_secret = gr.Checkbox(D.build_secret, label="Show a build secret (HF_TOKEN by mount)")
            g_inputs = [g_source, g_name, g_image, g_tag, g_n, g_py, g_torch, g_cuda, g_gpu, g_secret]
            gr.Markdown("**Examples** (one click fills the form and generates):")
            with gr.Row():
                g_examples = [gr.Button(label, size="sm", elem_id=f"{SLUG}-gen-example-{i}")
                              for i, (label, _) in enumerate(GEN_EXAMPLES)]
            g_btn = gr.Button("Generate and lint", variant="primary", elem_id=f"{SLUG}-generate")
            g_summary = gr.Markdown(elem_id=f"{SLUG}-gen-summary")
            g_table = gr.Dataframe(headers=["file", "tool", "result", "details"], label="Linter findings",
                                   interactive=False, wrap=True)
            g_zip = gr.File(label="Download every file (zip)", elem_id=f"{SLUG}-gen-zip")
            code_boxes = []
            with gr.Tabs():
                for path in templates.SHOWN:
                    with gr.Tab(path):
                        code_boxes.append(gr.Code(language=CODE_FOR[path], label=path, interactive=False))
            with gr.Accordion("Replicate, locally: run predict.py in cog's own server", open=False):
                gr.Markdown("Replicate runs every model with cog's HTTP server (`python -m cog.server.http`, the Rust "
                            "`coglet` from PyPI `cog`). This starts that server here with the generated `predict.py`, "
                            "waits for `setup()` to load the weights, sends one digit as `POST /predictions` and stops it (a few "
                            "seconds).")
                with gr.Row():
                    c_text = gr.Textbox("", label="pixels: 64 comma-separated values 0-16, an 8x8 digit row by row",
                                        placeholder="empty: held-out sample 0", scale=3)
                    c_rounds = gr.Number(0, label="rounds of extra CPU work (0 = none)", precision=0)
                c_btn = gr.Button("Run predict.py in cog's server", elem_id=f"{SLUG}-cog-run")
                c_note = gr.Markdown(elem_id=f"{SLUG}-cog-note")
                c_json = gr.Code(language="json", label="POST /predictions response", interactive=False)
                c_log = gr.Textbox(label="cog server log", lines=6, max_lines=12)
            code_panel(check_settings, templates.dockerfile, templates.compose_yaml, templates.nginx_conf,
                       templates.cog_yaml, templates.predict_py, templates.k8s_yaml, bundle.export_lab,
                       lint.lint_bundle, lint.check_dockerfile, lint.check_compose, lint.check_nginx,
                       lint.check_cog_yaml, lint.check_predict_py, lint.check_k8s, cog_local.predict_locally)
            g_outputs = [g_summary, g_table, g_zip, *code_boxes]
            g_btn.click(generate, g_inputs, g_outputs, api_name=f"{SLUG}_generate", **HEAVY)
            g_torch.change(friendly(cuda_choices), g_torch, g_cuda, api_name=f"{SLUG}_cuda_choices")
            for i, button in enumerate(g_examples):
                button.click(partial(example_values, GEN_EXAMPLES, i), None, g_inputs,
                             api_name=f"{SLUG}_gen_example_{'abc'[i]}").then(
                    generate, g_inputs, g_outputs, api_name=f"{SLUG}_gen_example_{'abc'[i]}_run", **HEAVY)
            c_btn.click(run_cog, [*g_inputs, c_text, c_rounds], [c_note, c_json, c_log], api_name=f"{SLUG}_cog_predict",
                        **HEAVY)

        with gr.Tab("2 · Replicas behind nginx"):
            with gr.Accordion("Ask the model: one digit through replicas behind nginx", open=True):
                gr.Markdown("Starts fresh replicas (each loads the weights before it answers /healthz) behind nginx, "
                            "sends one `POST /predict` with a held-out digit or your drawing (shrunk to the dataset's "
                            "8x8, 0-16 form) and stops them. The same model also runs in this process: the answers "
                            "must agree.")
                with gr.Row():
                    m_index = gr.Slider(0, 449, value=0, step=1, label="Held-out sample (never seen in training)")
                    m_n = gr.Slider(1, 4, value=2, step=1, label="Replicas for this request")
                    m_sample = gr.Button("Predict the held-out sample", variant="primary",
                                         elem_id=f"{SLUG}-predict-sample")
                with gr.Row():
                    m_sketch = gr.Sketchpad(label="…or draw a digit", type="numpy", canvas_size=(280, 280),
                                            elem_id=f"{SLUG}-sketch")
                    with gr.Column():
                        m_draw = gr.Button("Predict my drawing", elem_id=f"{SLUG}-predict-drawing")
                        m_picture = gr.Image(label="What the model sees (8x8)", height=200, interactive=False)
                        m_probs = gr.Label(num_top_classes=3, label="Probabilities (from the replica)")
                m_text = gr.Markdown(elem_id=f"{SLUG}-predict-result")
                code_panel(predictions.predict_digit, predictions.held_out_through, replica.DigitsModel.predict_proba,
                           replica.read_safetensors, model.train, model.pixels_from_image)
                m_outputs = [m_picture, m_text, m_probs]
                m_sample.click(predict_sample, [m_index, m_n], m_outputs, api_name=f"{SLUG}_predict_sample", **HEAVY)
                m_draw.click(predict_drawing, [m_sketch, m_n], m_outputs, api_name=f"{SLUG}_predict_drawing", **HEAVY)
            gr.Markdown("What `docker compose up --scale app=N` does, for real with processes: N copies of the digits "
                        "model server on 127.0.0.1, a **real nginx** (your own process, config in a temp folder) balancing them "
                        "round-robin. Each run first sends the held-out digits through nginx (one batch per replica) and checks "
                        "every answer against the model run in this process; then requests of synthetic CPU load (`/work`: "
                        "SHA-256 rounds, the knob that shows scaling) from a thread pool. Tick *kill one* to SIGKILL replica r1 between two "
                        "rounds of requests and watch nginx route around it. Takes a few seconds.")
            with gr.Row():
                r_n = gr.Slider(MIN_REPLICAS, MAX_REPLICAS, value=DEFAULT_REPLICAS, step=1, label="Replicas")
                r_req = gr.Slider(MIN_REQUESTS, MAX_REQUESTS, value=DEFAULT_REQUESTS, step=1, label="Requests per round")
                r_rounds = gr.Slider(0, MAX_ROUNDS, value=DEFAULT_ROUNDS, step=1000,
                                     label="SHA-256 rounds per request (CPU work)")
                r_conc = gr.Slider(1, 16, value=4, step=1, label="Concurrent clients")
            with gr.Row():
                r_kill = gr.Checkbox(True, label="Kill one replica between the two rounds")
                r_port = gr.Number(0, label="nginx port on 127.0.0.1 (0 = a free one)", precision=0)
            r_inputs = [r_n, r_req, r_rounds, r_conc, r_kill, r_port]
            with gr.Row():
                r_examples = [gr.Button(label, size="sm", elem_id=f"{SLUG}-rep-example-{i}")
                              for i, (label, _) in enumerate(REPLICA_EXAMPLES)]
            r_btn = gr.Button("Start replicas behind nginx and send requests", variant="primary",
                              elem_id=f"{SLUG}-replicas-run")
            r_summary = gr.Markdown(elem_id=f"{SLUG}-replicas-summary")
            r_table = gr.Dataframe(headers=["replica", "port", "pid", "answered"], label="Requests answered per replica",
                                   interactive=False)
            r_shots = gr.Dataframe(headers=["round", "#", "status", "answered by", "upstream(s) nginx tried",
                                            "latency ms"], label="Every request", interactive=False, max_height=300)
            r_errors = gr.Textbox(label="nginx error.log (upstream lines)", lines=4, max_lines=10)
            r_conf = gr.Code(language="shell", label="The nginx.conf that ran (same template as compose/nginx.conf)",
                             interactive=False)
            code_panel(replicas.run_demo, replicas.ReplicaSet.start, replicas.Nginx.start, replicas.fire,
                       replica.work, replica.ReplicaHandler.do_GET)
            r_outputs = [r_summary, r_table, r_shots, r_errors, r_conf]
            r_btn.click(run_replicas, r_inputs, r_outputs, api_name=f"{SLUG}_replicas", **HEAVY)
            for i, button in enumerate(r_examples):
                button.click(partial(example_values, REPLICA_EXAMPLES, i), None, r_inputs,
                             api_name=f"{SLUG}_rep_example_{'abc'[i]}").then(
                    run_replicas, r_inputs, r_outputs, api_name=f"{SLUG}_rep_example_{'abc'[i]}_run", **HEAVY)

        with gr.Tab("3 · Docker engine"):
            d_status = gr.Markdown(engine.NOT_CHECKED, elem_id=f"{SLUG}-engine-status")
            gr.Markdown("These use the settings of tab 1. `docker build` builds `docker-space/` (with the HF_TOKEN "
                        "build secret if it is set in the environment); `compose up` starts N replicas behind nginx on "
                        "port 8080.")
            with gr.Row():
                d_check = gr.Button("Check for a Docker engine (docker info)", size="sm",
                                    elem_id=f"{SLUG}-engine-check")
                # Not checked at start-up (no subprocess while the launcher builds): each button checks first.
                d_build = gr.Button("docker build", elem_id=f"{SLUG}-docker-build")
                d_up = gr.Button("docker compose up --scale app=N", elem_id=f"{SLUG}-compose-up")
                d_down = gr.Button("docker compose down", elem_id=f"{SLUG}-compose-down")
            d_log = gr.Textbox(label="Live log", lines=14, max_lines=30, autoscroll=True)
            code_panel(engine.detect, engine.cached_status, engine.stream, engine.build_command,
                       engine.compose_up_command)
            d_engine = [d_status, d_build, d_up, d_down]
            d_check.click(engine_status, None, d_engine, api_name=f"{SLUG}_engine")
            for button, handler, inputs, name, extra in (
                    (d_build, docker_build, g_inputs, "docker_build", HEAVY),
                    (d_up, compose_up, g_inputs, "compose_up", HEAVY),
                    (d_down, compose_down, g_name, "compose_down", {})):
                button.click(handler, inputs, d_log, api_name=f"{SLUG}_{name}", **extra).then(
                    engine_status_cached, None, d_engine, api_name=f"{SLUG}_{name}_engine",
                    api_visibility="undocumented")

        with gr.Tab("4 · Publish to a Space"):
            gr.Markdown("A **Docker Space** uploads the `docker-space/` folder generated from tab 1's settings with "
                        "`huggingface_hub` (`create_repo` + `upload_folder`). A **Gradio Space** runs the suite's own "
                        "`python spaces/export.py <lab> --out DIR --push OWNER/NAME`, with your token in the child's "
                        "environment (HF_TOKEN), never on its command line. Your token is sent to Hugging Face only: "
                        "it is never shown, logged or saved. Without network access the upload fails with a clear "
                        "\"could not reach huggingface.co\" message; the token never appears in it.")
            with gr.Row():
                p_repo = gr.Textbox(label="Space id (owner/name)", placeholder="your-name/tiny-model")
                p_token = gr.Textbox(label="Hugging Face write token", type="password", placeholder="hf_…")
                p_sdk = gr.Radio([("Docker Space (Dockerfile)", "docker"), ("Gradio Space (a lab's export)", "gradio")],
                                 value="docker", label="Space type")
                p_private = gr.Checkbox(True, label="Private")
            p_btn = gr.Button("Publish", variant="primary", elem_id=f"{SLUG}-publish")
            p_out = gr.Markdown(elem_id=f"{SLUG}-publish-result")
            code_panel(publish.publish, publish.publish_lab, publish.check_token, publish._known_cause)
            p_btn.click(publish_space, [*g_inputs, p_repo, p_token, p_sdk, p_private], p_out,
                        api_name=f"{SLUG}_publish", **HEAVY)

        with gr.Tab("5 · Compare targets"):
            gr.Markdown(compare.comparison_note())
            gr.Dataframe(value=compare.comparison_rows(), headers=list(compare.COLUMNS), interactive=False, wrap=True)

if __name__ == "__main__":
    serve(demo)
