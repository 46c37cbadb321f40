"""Deployment settings for the KEDA lab, with Azure's naming rules and scale limits.

Every generated file (Dockerfile, CLI script, Bicep, SDK script, Kubernetes manifests) is rendered
from one `DeploySettings`, so the three Azure forms cannot drift apart. `check_settings` enforces
each service's naming rules before anything is rendered: a bad name is reported here, with the rule
and a fix, instead of failing twenty minutes into a deployment.

References: "Naming rules and restrictions for Azure resources" (Microsoft Learn), "Set scaling
rules in Azure Container Apps" (limits: up to 1,000 replicas per revision).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

# --- Defaults, each with its reason -------------------------------------------------------------
DEFAULT_MIN_REPLICAS = 0  # scale to zero: no replicas, no usage charge when nobody is using it
DEFAULT_MAX_REPLICAS = 10  # the requirement: autoscale up to 10
DEFAULT_COOLDOWN_S = 900  # "down to zero when not used for fifteen minutes" (ACA's default is 300)
DEFAULT_POLLING_S = 30  # ACA's default KEDA polling interval; lower reacts faster, costs more polls
DEFAULT_CONCURRENCY = 10  # ACA's default concurrentRequests per replica for HTTP rules
DEFAULT_STABILISATION_S = 300  # Kubernetes HPA's default scale-down stabilisation window
DEFAULT_PORT = 7860  # Gradio's port; ingress targets it
PLATFORM_MAX_REPLICAS = 1000  # Azure Container Apps: at most 1,000 replicas per revision
MAX_COOLDOWN_S = 86_400  # a day; longer idles are better expressed as min replicas 1
MAX_POLLING_S = 3_600

# Consumption-plan CPU/memory pairs (vCPU, GiB): memory must be twice the vCPUs.
CPU_MEMORY_PAIRS = ((0.25, 0.5), (0.5, 1.0), (0.75, 1.5), (1.0, 2.0), (1.25, 2.5), (1.5, 3.0),
                    (1.75, 3.5), (2.0, 4.0), (2.5, 5.0), (3.0, 6.0), (3.5, 7.0), (4.0, 8.0))

# Pinned API versions used by the Bicep file: 2025-01-01 is the first stable Microsoft.App version
# with scale.cooldownPeriod and scale.pollingInterval.
API_VERSIONS = {
    "Microsoft.App/managedEnvironments": "2025-01-01",
    "Microsoft.App/containerApps": "2025-01-01",
    "Microsoft.ContainerRegistry/registries": "2023-07-01",
    "Microsoft.OperationalInsights/workspaces": "2023-09-01",
    "Microsoft.ManagedIdentity/userAssignedIdentities": "2023-01-31",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
}
ACR_PULL_ROLE_ID = "7f951dda-4ed3-4680-a7ca-43fe172d538d"  # built-in "AcrPull" role definition


class SettingsError(ValueError):
    """A setting breaks an Azure rule; the message names the rule and how to fix it."""


# name: (regex, human rule). Regexes are anchored with fullmatch.
NAME_RULES: dict[str, tuple[str, str]] = {
    "resource_group": (
        r"[A-Za-z0-9_.()\-]{0,89}[A-Za-z0-9_()\-]",
        "1-90 characters: letters, digits, '_', '-', '.', '(' and ')'; it cannot end with '.'",
    ),
    "registry": (
        r"[a-z0-9]{5,50}",
        "5-50 characters, lowercase letters and digits only (no hyphens); globally unique, "
        "because it becomes <name>.azurecr.io",
    ),
    "workspace": (
        r"[A-Za-z0-9][A-Za-z0-9\-]{2,61}[A-Za-z0-9]",
        "4-63 characters: letters, digits and '-'; it must start and end with a letter or digit",
    ),
    "environment": (
        r"[a-z][a-z0-9\-]{0,58}[a-z0-9]",
        "2-60 characters: lowercase letters, digits and '-'; start with a letter, end with a letter or digit",
    ),
    "app": (
        r"[a-z][a-z0-9\-]{0,30}[a-z0-9]",
        "2-32 characters: lowercase letters, digits and '-'; start with a letter, end with a letter "
        "or digit, and no '--'",
    ),
    "identity": (
        r"[A-Za-z0-9][A-Za-z0-9_\-]{2,127}",
        "3-128 characters: letters, digits, '-' and '_'; start with a letter or digit",
    ),
    "location": (r"[a-z][a-z0-9]{2,30}", "an Azure region name such as westeurope, eastus or swedencentral"),
    "image": (
        r"[a-z0-9]+(?:[._\-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._\-][a-z0-9]+)*)*",
        "a lowercase repository name such as 'web' or 'team/web' (letters, digits, '.', '_', '-')",
    ),
    "tag": (r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}", "1-128 characters: letters, digits, '_', '.', '-'"),
}
FIELD_LABELS = {
    "resource_group": "Resource group", "registry": "Container registry", "workspace": "Log Analytics workspace",
    "environment": "Container Apps environment", "app": "Container app", "identity": "Managed identity",
    "location": "Location", "image": "Image repository", "tag": "Image tag",
}


@dataclass(frozen=True)
class DeploySettings:
    """Everything the generators need. Defaults: 0..10 replicas, 15 minutes idle."""

    app: str = "web-waits"
    resource_group: str = "rg-keda-lab"
    location: str = "westeurope"
    registry: str = "kedalabacr2024"
    workspace: str = "law-keda-lab"
    environment: str = "cae-keda-lab"
    identity: str = "id-web-waits-pull"
    image: str = "web-waits"
    tag: str = "v1"
    min_replicas: int = DEFAULT_MIN_REPLICAS
    max_replicas: int = DEFAULT_MAX_REPLICAS
    concurrency: int = DEFAULT_CONCURRENCY
    cooldown_s: int = DEFAULT_COOLDOWN_S
    polling_s: int = DEFAULT_POLLING_S
    stabilisation_s: int = DEFAULT_STABILISATION_S
    cpu: float = 0.5
    memory_gi: float = 1.0
    port: int = DEFAULT_PORT
    work_ms: int = 500  # how long the demo endpoint "waits" per request (a slow backend call)
    tags: dict = field(default_factory=lambda: {"lab": "keda-autoscaling"})

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def full_image(self) -> str:
        return f"{self.registry}.azurecr.io/{self.image}:{self.tag}"


def parse_size(text) -> tuple[float, float]:
    """Read a replica size such as ``"0.5 vCPU / 1 GiB"`` (or ``"0.5/1"``) into (vCPU, GiB).

    Raises:
        SettingsError: If the text is empty or not two numbers separated by '/'.
    """
    pairs = ", ".join(f"{c:g} vCPU / {m:g} GiB" for c, m in CPU_MEMORY_PAIRS)
    if text is None or not str(text).strip():
        raise SettingsError(f"Replica size is empty. Pick one of: {pairs}.")
    parts = str(text).split("/")
    try:
        if len(parts) != 2:
            raise ValueError
        cpu, mem = (float(part.split()[0]) for part in parts)
    except (ValueError, IndexError):
        raise SettingsError(f"Replica size {str(text)!r} is not '<vCPU> vCPU / <memory> GiB'. "
                            f"Pick one of: {pairs}.") from None
    return cpu, mem


def parse_number(value, label: str, *, whole: bool, error: type[ValueError] | None = None,
                 empty_hint: str = "") -> float | int:
    """One raw UI value (None, a number or text) as a finite number, or `error` naming the box.

    Args:
        whole: Accept whole numbers only (and return an int).
        error: The exception class to raise (default `SettingsError`).
        empty_hint: Appended to the "is empty" message, e.g. the allowed range.
    """
    error = error or SettingsError
    kind = "a whole number" if whole else "a number"
    if value is None or (isinstance(value, str) and not value.strip()):
        raise error(f"{label} is empty. Enter {kind}{empty_hint}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise error(f"{label} must be {kind}, got {value!r}.") from None
    if not math.isfinite(number) or (whole and number != int(number)):
        raise error(f"{label} must be {kind}, got {value!r}.")
    return int(number) if whole else number


def _check_int(value, label: str, low: int, high: int, hint: str = "") -> int:
    number = parse_number(value, label, whole=True, empty_hint=f" between {low} and {high}")
    if not low <= number <= high:
        raise SettingsError(f"{label} must be between {low} and {high}, got {number}. {hint}".strip())
    return number


def check_settings(**values) -> DeploySettings:
    """Build a `DeploySettings` from raw UI values, enforcing Azure's rules.

    Args:
        **values: Any field of `DeploySettings` (strings are stripped; numbers may come as floats),
            or ``size`` (a replica size such as ``"0.5 vCPU / 1 GiB"``, read by `parse_size`) instead
            of ``cpu`` and ``memory_gi``. A field left out keeps its default; a field passed as None
            (an emptied UI box) is refused as empty.

    Returns:
        The validated settings.

    Raises:
        SettingsError: For the first broken rule, naming the field, the rule and a fix.
    """
    base = DeploySettings()
    values = dict(values)
    if "size" in values:
        values["cpu"], values["memory_gi"] = parse_size(values.pop("size"))
    merged = {**base.as_dict(), **values}
    unknown = set(values) - set(base.as_dict())
    if unknown:
        raise SettingsError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    for key, (pattern, rule) in NAME_RULES.items():
        raw = merged[key]
        text = "" if raw is None else str(raw).strip()
        if not text:
            raise SettingsError(f"{FIELD_LABELS[key]} name is empty. Rule: {rule}.")
        if not re.fullmatch(pattern, text) or (key == "app" and "--" in text):
            raise SettingsError(f"{FIELD_LABELS[key]} name {text!r} is not allowed. Rule: {rule}.")
        merged[key] = text
    merged["min_replicas"] = _check_int(merged["min_replicas"], "Min replicas", 0, PLATFORM_MAX_REPLICAS)
    merged["max_replicas"] = _check_int(
        merged["max_replicas"], "Max replicas", 1, PLATFORM_MAX_REPLICAS,
        f"Azure Container Apps allows at most {PLATFORM_MAX_REPLICAS} replicas per revision.")
    if merged["min_replicas"] > merged["max_replicas"]:
        raise SettingsError(
            f"Min replicas ({merged['min_replicas']}) is larger than max replicas ({merged['max_replicas']}). "
            "Lower min or raise max.")
    merged["concurrency"] = _check_int(
        merged["concurrency"], "Concurrent requests per replica", 1, 10_000,
        "A target of 0 would ask for infinitely many replicas; use at least 1.")
    merged["cooldown_s"] = _check_int(merged["cooldown_s"], "Cooldown period (s)", 0, MAX_COOLDOWN_S)
    merged["polling_s"] = _check_int(merged["polling_s"], "Polling interval (s)", 1, MAX_POLLING_S)
    merged["stabilisation_s"] = _check_int(merged["stabilisation_s"], "Scale-down stabilisation (s)", 0, 3_600)
    merged["port"] = _check_int(merged["port"], "Port", 1024, 65_535, "Use an unprivileged port (non-root container).")
    merged["work_ms"] = _check_int(merged["work_ms"], "Work per request (ms)", 0, 60_000)
    for key, label in (("cpu", "CPU"), ("memory_gi", "Memory")):
        if merged[key] is None or (isinstance(merged[key], str) and not merged[key].strip()):
            raise SettingsError(f"{label} is empty. Pick a replica size, e.g. 0.5 vCPU and 1.0 GiB.")
    try:
        cpu, mem = float(merged["cpu"]), float(merged["memory_gi"])
    except (TypeError, ValueError):
        raise SettingsError("CPU and memory must be numbers, e.g. 0.5 vCPU and 1.0 GiB.") from None
    if (cpu, mem) not in CPU_MEMORY_PAIRS:
        pairs = ", ".join(f"{c:g}/{m:g}Gi" for c, m in CPU_MEMORY_PAIRS)
        raise SettingsError(f"CPU {cpu:g} with memory {mem:g} GiB is not a Consumption-plan size. Allowed: {pairs}.")
    merged["cpu"], merged["memory_gi"] = cpu, mem
    return DeploySettings(**merged)
