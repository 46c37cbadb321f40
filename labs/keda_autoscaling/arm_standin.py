"""Run the generated SDK deploy script end to end against a local stand-in of Azure Resource Manager.

The generated `deploy_aca.py` calls real azure-mgmt-* clients. Here their `base_url` points at an
HTTP server this module starts on 127.0.0.1 (port chosen by the OS), and their credential is a fake
token credential, so every request the script would send to https://management.azure.com is sent,
serialised by the real SDK, to the stand-in instead. The stand-in implements just what the script
uses, the way ARM answers it:

* `PUT` a resource: stored, echoed back with `id`, `name`, `type` and the read-only fields ARM adds
  (workspace `customerId`, identity `principalId`, registry `loginServer`, ...). Resource types
  that ARM creates asynchronously (workspaces, registries, environments, container apps) answer
  `201 Created` with an `Azure-AsyncOperation` header; the operation reports `InProgress` once,
  then `Succeeded`, and the SDK's poller follows it exactly as it would on Azure.
* `GET` a resource (404 with ARM's error body if it does not exist), `POST .../sharedKeys`.
* A request without `api-version` is refused with 400, as ARM does.

Every request is recorded (method, path, api-version, status) for the UI. Nothing leaves 127.0.0.1,
and no visitor input chooses an address: the lab starts the server and hands its URL to the script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SUBSCRIPTION = "00000000-0000-0000-0000-00000000c0de"  # a made-up subscription for the stand-in
RUN_TIMEOUT_S = 60  # both phases of the script, including Python and SDK start-up (~1-3 s normally)
SHARED_RUN_TIMEOUT_S = 30  # the same bound on a shared server
MAX_BODY = 1 << 20  # the script's largest request body is a few kB
# ARM creates these asynchronously: PUT answers 201 + Azure-AsyncOperation, the client polls.
ASYNC_TYPES = {"microsoft.operationalinsights/workspaces", "microsoft.containerregistry/registries",
               "microsoft.app/managedenvironments", "microsoft.app/containerapps"}


def resource_type(path: str) -> str:
    """ARM resource type of a resource path, e.g. `Microsoft.App/containerApps`."""
    parts = [p for p in path.split("/") if p]
    lower = [p.lower() for p in parts]
    if "providers" not in lower:
        return "Microsoft.Resources/resourceGroups" if "resourcegroups" in lower else "Microsoft.Resources/subscriptions"
    i = len(lower) - 1 - lower[::-1].index("providers")
    rest = parts[i + 1:]
    namespace, types = rest[0], rest[1::2]
    return "/".join([namespace, *types])


@dataclass
class ArmStandIn:
    """The in-memory state and request log of one stand-in server."""

    resources: dict = field(default_factory=dict)  # lower-case path -> resource body
    operations: dict = field(default_factory=dict)  # operation id -> polls left before "Succeeded"
    log: list = field(default_factory=list)  # one dict per request
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, raw_path: str, body: bytes, base: str) -> tuple[int, dict, dict]:
        """Answer one request: (status, headers, JSON body)."""
        url = urlsplit(raw_path)
        path, query = url.path, parse_qs(url.query)
        api = (query.get("api-version") or [""])[0]
        with self.lock:
            status, headers, payload = self._answer(method, path, api, body, base)
            self.log.append({"method": method, "path": path, "api_version": api or "(none)", "status": status})
        return status, headers, payload

    def _answer(self, method: str, path: str, api: str, body: bytes, base: str) -> tuple[int, dict, dict]:
        if not api:
            return 400, {}, _error("MissingApiVersionParameter", "The api-version query parameter is required.")
        if path.startswith("/operations/"):
            op = path.rsplit("/", 1)[-1]
            if op not in self.operations:
                return 404, {}, _error("OperationNotFound", f"Operation {op} not found.")
            left = self.operations[op]
            self.operations[op] = max(0, left - 1)
            return 200, {"Retry-After": "0"}, {"id": op, "status": "InProgress" if left else "Succeeded"}
        key = path.rstrip("/").lower()
        if method == "GET":
            if key not in self.resources:
                return 404, {}, _error("ResourceNotFound", f"The resource '{path}' was not found.")
            return 200, {}, self.resources[key]
        if method == "POST" and key.endswith("/sharedkeys"):
            if key.rsplit("/", 1)[0] not in self.resources:
                return 404, {}, _error("ResourceNotFound", "The workspace was not found.")
            return 200, {}, {"primarySharedKey": "bG9jYWwtc3RhbmQtaW4ta2V5", "secondarySharedKey": "c2Vjb25k"}
        if method == "PUT":
            try:
                sent = json.loads(body or b"{}")
            except json.JSONDecodeError:
                return 400, {}, _error("InvalidRequestContent", "The request body is not JSON.")
            rtype = resource_type(path)
            stored = _with_readonly_fields(sent, path, rtype)
            created = key not in self.resources
            self.resources[key] = stored
            if rtype.lower() in ASYNC_TYPES:
                op = uuid.uuid4().hex
                self.operations[op] = 1  # one "InProgress" answer, then "Succeeded"
                headers = {"Azure-AsyncOperation": f"{base}/operations/{op}?api-version={api}", "Retry-After": "0"}
                in_progress = json.loads(json.dumps(stored))
                in_progress.setdefault("properties", {})["provisioningState"] = "InProgress"
                return 201, headers, in_progress
            return (201 if created else 200), {}, stored
        return 405, {}, _error("MethodNotAllowed", f"{method} {path} is not implemented by the stand-in.")


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _with_readonly_fields(sent: dict, path: str, rtype: str) -> dict:
    """The body ARM returns for a PUT: what was sent plus the fields ARM itself fills in."""
    out = json.loads(json.dumps(sent))
    out.update({"id": path, "name": path.rstrip("/").rsplit("/", 1)[-1], "type": rtype})
    props = out.setdefault("properties", {})
    props["provisioningState"] = "Succeeded"
    low = rtype.lower()
    if low == "microsoft.operationalinsights/workspaces":
        props.setdefault("customerId", str(uuid.uuid5(uuid.NAMESPACE_URL, path)))
    elif low == "microsoft.managedidentity/userassignedidentities":
        props.update(principalId=str(uuid.uuid5(uuid.NAMESPACE_URL, path + "/p")),
                     clientId=str(uuid.uuid5(uuid.NAMESPACE_URL, path + "/c")), tenantId=str(uuid.UUID(int=1)))
    elif low == "microsoft.containerregistry/registries":
        props["loginServer"] = f"{out['name']}.azurecr.io"
    elif low == "microsoft.app/containerapps":
        props.setdefault("configuration", {}).setdefault("ingress", {})["fqdn"] = f"{out['name']}.local.azurecontainerapps.io"
    elif low == "microsoft.resources/resourcegroups":
        out.pop("properties")
        out["properties"] = {"provisioningState": "Succeeded"}
    return out


def start_server(state: ArmStandIn) -> tuple[ThreadingHTTPServer, str]:
    """Serve `state` on 127.0.0.1 (a free port) in a daemon thread; return the server and its URL."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_error(413)
                return
            body = self.rfile.read(length) if length else b""
            status, headers, payload = state.handle(self.command, self.path, body, base)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _reply

        def log_message(self, *args) -> None:  # the request log is `state.log`
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True, name="arm-stand-in").start()
    return server, base


# The driver runs in a fresh interpreter: it loads the generated script as a module and calls its
# deploy() with a fake token credential and the stand-in's URL. azure-core refuses bearer tokens over
# plain HTTP; the authentication policy below lifts that for 127.0.0.1 only.
DRIVER = r'''
import importlib.util, sys, time
from urllib.parse import urlsplit
from azure.core.credentials import AccessToken
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

class LocalStandInCredential:
    """A token credential for the local stand-in: no secret, no network."""
    def get_token(self, *scopes, **kwargs):
        return AccessToken("local-stand-in-token", int(time.time()) + 3600)

class LoopbackAuthPolicy(ARMChallengeAuthenticationPolicy):
    """ARM's own bearer-token policy, allowed to send the fake token over http to 127.0.0.1 only."""
    def on_request(self, request):
        if urlsplit(request.http_request.url).hostname == "127.0.0.1":
            request.context["enforce_https"] = False
        super().on_request(request)

credential = LocalStandInCredential()
policy = LoopbackAuthPolicy(credential, "https://management.azure.com/.default")

spec = importlib.util.spec_from_file_location("deploy_aca", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
for phase in sys.argv[3:]:
    print(f"--- python deploy_aca.py {phase}", flush=True)
    module.deploy(phase, credential=credential, base_url=sys.argv[2], authentication_policy=policy,
                  polling_interval=0)
'''


def run_sdk_script(script: str | Path, phases: tuple[str, ...] = ("infra", "app"), *,
                   timeout_s: float | None = None) -> dict:
    """Run the generated `deploy_aca.py` (each phase in order) against a fresh stand-in.

    Returns:
        returncode, output (what the script printed), requests (the stand-in's log), resources
        (paths it holds afterwards), scale (the container app's scale block as stored), wall_s.
    """
    script = Path(script)
    if not script.is_file():
        raise ValueError(f"{script.name} was not found; generate the bundle first.")
    for phase in phases:
        if phase not in ("infra", "app"):
            raise ValueError(f"Unknown phase {phase!r}; use infra and/or app.")
    if timeout_s is None:
        from shared.serving import request_budget

        timeout_s = request_budget(local=RUN_TIMEOUT_S, shared=SHARED_RUN_TIMEOUT_S)
    state = ArmStandIn()
    server, base = start_server(state)
    # A clean environment: no operator credentials or Azure settings reach the script.
    env = {"PATH": os.defpath, "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION, "HOME": str(script.parent),
           "PYTHONDONTWRITEBYTECODE": "1", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", DRIVER, str(script), base, *phases], cwd=str(script.parent),
                              env=env, capture_output=True, text=True, timeout=timeout_s)
        code, output = proc.returncode, (proc.stdout + proc.stderr).strip()
    except subprocess.TimeoutExpired:
        code, output = -1, f"stopped after {timeout_s:.0f} s"
    finally:
        server.shutdown()
        server.server_close()
    app = next((body for body in state.resources.values() if body.get("type") == "Microsoft.App/containerApps"), None)
    scale = (app or {}).get("properties", {}).get("template", {}).get("scale")
    return {"returncode": code, "output": output[-4000:], "requests": list(state.log),
            "resources": sorted(b.get("id", k) for k, b in state.resources.items()), "scale": scale,
            "wall_s": round(time.perf_counter() - t0, 2)}
