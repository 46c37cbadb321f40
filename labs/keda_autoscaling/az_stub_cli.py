"""A stub `az` for running the generated deploy_aca.sh locally: just the commands it uses.

State lives in a JSON file (`AZ_STUB_STATE`), every call is appended to `AZ_STUB_LOG`. It keeps
the container app as ARM would return it (`properties.template.scale...`), answers `--query a.b.c
-o tsv` for those paths, and reproduces the reported CLI behaviour the lab guards against:
`az containerapp update --image` puts `scale.cooldownPeriod` back to the default 300
(Azure/azure-cli-extensions#10334). `az resource update --set path=value` sets it again.
Run as a program (`python az_stub_cli.py ...`); `az_stub.py` puts an `az` wrapper first on PATH.
"""

from __future__ import annotations

import json
import os
import sys

DEFAULT_COOLDOWN = 300  # what ACA uses when cooldownPeriod is not set, and what the update resets it to
DEFAULT_POLLING = 30
SUB = "00000000-0000-0000-0000-00000000c0de"
VALUE_FLAGS = {"-g", "--resource-group", "-n", "--name", "--query", "-o", "--output", "--ids", "--image",
               "--registry", "--min-replicas", "--max-replicas", "--api-version", "--environment", "--location",
               "--scale-rule-http-concurrency", "--namespace"}


def parse(argv: list[str]) -> tuple[list[str], dict]:
    """Split `az` arguments into the command words and {flag: value or [values]}."""
    words, flags, i = [], {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--set":
            values = []
            while i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                values.append(argv[i + 1])
                i += 1
            flags["--set"] = values
        elif arg.startswith("-"):
            if arg in VALUE_FLAGS and i + 1 < len(argv):
                flags[arg] = argv[i + 1]
                i += 1
            elif i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                flags[arg] = argv[i + 1]  # other flags with a value (--sku Basic, ...)
                i += 1
            else:
                flags[arg] = True
        elif not flags:
            words.append(arg)
        i += 1
    return words, flags


def lookup(doc, path: str):
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


def assign(doc: dict, path: str, value) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        doc = doc.setdefault(part, {})
    doc[parts[-1]] = value


def output(value, flags: dict) -> None:
    """Print like az: `-o tsv` prints the bare value, otherwise JSON; `-o none` prints nothing."""
    fmt = flags.get("-o", flags.get("--output", "json"))
    if "--query" in flags:
        value = lookup(value, flags["--query"])
    if fmt == "none":
        return
    print(value if fmt == "tsv" else json.dumps(value, indent=2))


def main(argv: list[str]) -> int:
    state_path, log_path = os.environ["AZ_STUB_STATE"], os.environ["AZ_STUB_LOG"]
    state = json.load(open(state_path)) if os.path.exists(state_path) else {"resources": {}}
    with open(log_path, "a") as log:
        log.write(json.dumps(argv) + "\n")
    words, flags = parse(argv)
    cmd = " ".join(words)
    rg = flags.get("-g") or flags.get("--resource-group") or flags.get("--name")
    name = flags.get("-n") or flags.get("--name")
    res = state["resources"]

    def rid(provider: str) -> str:
        return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/{provider}/{name}"

    if cmd in ("extension add", "provider register"):
        pass
    elif cmd == "group create":
        res[f"/subscriptions/{SUB}/resourceGroups/{rg}"] = {"name": rg, "location": flags.get("--location")}
    elif cmd == "monitor log-analytics workspace create":
        res[rid("Microsoft.OperationalInsights/workspaces")] = {"name": name, "customerId": "0b5e6c1d-local"}
    elif cmd in ("monitor log-analytics workspace show", "monitor log-analytics workspace get-shared-keys"):
        ws = res.get(rid("Microsoft.OperationalInsights/workspaces"))
        if ws is None:
            print(f"ERROR: workspace {name} not found", file=sys.stderr)
            return 3
        output({**ws, "primarySharedKey": "bG9jYWwta2V5"}, flags)
    elif cmd == "acr create":
        res[rid("Microsoft.ContainerRegistry/registries")] = {"name": name, "loginServer": f"{name}.azurecr.io"}
    elif cmd == "acr build":
        print(f"Run ID: local1 was successful after 0s ({flags.get('--registry')}.azurecr.io/{flags.get('--image')})")
    elif cmd == "containerapp env create":
        res[rid("Microsoft.App/managedEnvironments")] = {"name": name}
    elif cmd == "containerapp create":
        res[rid("Microsoft.App/containerApps")] = {
            "id": rid("Microsoft.App/containerApps"), "name": name,
            "properties": {"configuration": {"ingress": {"fqdn": f"{name}.local.azurecontainerapps.io"}},
                           "template": {"containers": [{"image": flags.get("--image")}],
                                        "scale": {"minReplicas": int(flags.get("--min-replicas", 0)),
                                                  "maxReplicas": int(flags.get("--max-replicas", 10)),
                                                  "cooldownPeriod": DEFAULT_COOLDOWN,
                                                  "pollingInterval": DEFAULT_POLLING}}}}
    elif cmd in ("containerapp show", "containerapp update"):
        app = res.get(rid("Microsoft.App/containerApps"))
        if app is None:
            print(f"ERROR: (ResourceNotFound) container app {name} not found", file=sys.stderr)
            return 3
        if cmd == "containerapp update" and "--image" in flags:
            app["properties"]["template"]["containers"][0]["image"] = flags["--image"]
            # The reported behaviour: the update sends the scale block without cooldownPeriod -> default.
            app["properties"]["template"]["scale"]["cooldownPeriod"] = DEFAULT_COOLDOWN
        output(app, flags)
    elif cmd == "resource update":
        target = res.get(flags.get("--ids", ""))
        if target is None:
            print(f"ERROR: resource {flags.get('--ids')} not found", file=sys.stderr)
            return 3
        for item in flags.get("--set", []):
            path, _, value = item.partition("=")
            assign(target, path, int(value) if value.lstrip("-").isdigit() else value)
        output(target, flags)
    else:
        print(f"stub az: '{cmd}' is not implemented by this local stand-in", file=sys.stderr)
        return 2
    with open(state_path, "w") as fh:
        json.dump(state, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
