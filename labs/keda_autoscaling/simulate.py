"""Second-by-second simulation of KEDA's HTTP scaling on Azure Container Apps.

What is modelled, per simulated second `t`:

1. Requests arrive (`traffic[t]` per second) and join one FIFO queue in front of the replicas
   (the ingress/interceptor holds them, also while there are zero replicas).
2. Ready replicas serve up to `replica_capacity / service_s` requests per second each.
3. Two loops decide the replica count, as in KEDA:
   - KEDA polls every `polling_s` seconds: if any request arrived or waited since the last poll
     the app is *active*; an inactive app at zero stays there, an active one at zero is activated
     to 1 replica (the cold start begins); after `cooldown_s` without activity 1 -> 0. KEDA's
     cooldownPeriod applies to the last replica only.
   - The HPA syncs every `hpa_sync_s` (15 s) and sets desired = ceil(metric / target), clamped to
     [max(min, 1), max], then applies the HPA's `behavior` (`HpaBehavior`): scale-up is rate-limited
     by its policies (Kubernetes defaults: the larger of +100 % or +4 pods per 15 s, no scale-up
     stabilisation), so a burst goes 1 -> 5 -> 10 rather than 1 -> 10; scale-down N -> M > 0 goes
     only to the highest recommendation of the last `stabilisation_s` seconds (300 by default).
     KEDA passes its ScaledObject's `advanced.horizontalPodAutoscalerConfig` to the HPA unchanged;
     `rule_with_hpa_config()` reads that block into a rule. New replicas are ready `startup_s` later.
   - The metric: on Azure Container Apps the HTTP rule's "concurrent requests" is the number of
     requests in the last 15 s divided by 15 (a rate); the KEDA HTTP add-on on AKS uses requests
     in flight. Both are offered (`metric`).
4. Waits come from the cumulative arrival and departure curves (FIFO), so each second's cohort
   of requests gets its own queue wait; latency = wait + service time.

It is a model: the platform's own scheduling delays are left out so the KEDA rules stay visible; how
close it comes to real processes is measured in `calibrate.py` (simulated vs measured on 127.0.0.1). A day at 1 s resolution
(86,400 steps) runs in a fraction of a second (see benchmarks/keda_autoscaling.py).
"""

from __future__ import annotations

import bisect
import csv
import io
import math
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from labs.keda_autoscaling.settings import parse_number

MAX_SECONDS = 7 * 86_400  # a week at 1 s resolution: ~0.6 M steps, still a few seconds
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_RATE = 1_000_000  # requests per second in one row; more is almost surely a unit mistake
# ACA Consumption plan, pay-as-you-go list prices for active usage (check the pricing page for yours).
PRICE_VCPU_S = 0.000024
PRICE_GIB_S = 0.000003


METRICS = {
    "aca_rate": "Azure Container Apps HTTP rule: requests in the last 15 s / 15",
    "concurrency": "KEDA HTTP add-on: requests in flight (served + waiting)",
}


class TrafficError(ValueError):
    """A traffic profile or upload cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class HpaPolicy:
    """One HPA scaling policy: change by `value` pods or `value` percent per `period_s` seconds."""

    kind: str  # "Pods" or "Percent", as in the HPA's behavior.policies[].type
    value: int
    period_s: int


K8S_SCALE_UP = (HpaPolicy("Percent", 100, 15), HpaPolicy("Pods", 4, 15))  # Kubernetes' defaults
K8S_SCALE_DOWN = (HpaPolicy("Percent", 100, 15),)


@dataclass(frozen=True)
class HpaBehavior:
    """The HPA's `behavior` (autoscaling/v2). Defaults are Kubernetes' own; the scale-down
    stabilisation window lives in `ScaleRule.stabilisation_s`. Empty policies mean "no rate limit"."""

    up_policies: tuple[HpaPolicy, ...] = K8S_SCALE_UP
    up_select: str = "Max"  # "Max": the policy that allows the biggest change; "Min"; "Disabled"
    up_stabilisation_s: int = 0
    down_policies: tuple[HpaPolicy, ...] = K8S_SCALE_DOWN
    down_select: str = "Max"

    def check(self) -> "HpaBehavior":
        for policy in (*self.up_policies, *self.down_policies):
            if policy.kind not in ("Pods", "Percent") or policy.value < 1 or policy.period_s < 1:
                raise TrafficError(f"HPA policy {policy}: type must be Pods or Percent, value and periodSeconds >= 1.")
        for select in (self.up_select, self.down_select):
            if select not in ("Max", "Min", "Disabled"):
                raise TrafficError(f"selectPolicy {select!r}: use Max, Min or Disabled.")
        if self.up_stabilisation_s < 0:
            raise TrafficError("scaleUp.stabilizationWindowSeconds must be >= 0.")
        return self


UNLIMITED = HpaBehavior(up_policies=(), down_policies=())  # the HPA without rate limits (for comparison)


@dataclass(frozen=True)
class ScaleRule:
    """The scaler's settings plus what the app does (service time, capacity, cold start)."""

    min_replicas: int = 0
    max_replicas: int = 10
    target: int = 10  # concurrentRequests per replica
    polling_s: int = 30
    cooldown_s: int = 900
    stabilisation_s: int = 300
    startup_s: int = 10  # cold start: image pull + process start + readiness probe
    service_s: float = 0.5  # one request's "web wait" once a replica serves it
    replica_capacity: int = 20  # requests one replica can really serve at once
    hpa_sync_s: int = 15  # the HPA's sync period: how often 1 <-> N decisions happen
    metric: str = "aca_rate"  # "aca_rate": ACA's requests in the last 15 s / 15; "concurrency": in-flight (KEDA HTTP add-on)
    hpa: HpaBehavior = HpaBehavior()  # scale-up/down rate policies (Kubernetes defaults)
    cpu: float = 0.5
    memory_gi: float = 1.0

    def check(self) -> "ScaleRule":
        """Raise TrafficError (a ValueError) with a fix for impossible settings; return self."""
        if self.min_replicas < 0 or self.max_replicas < 1:
            raise TrafficError("Replicas: min must be >= 0 and max >= 1.")
        if self.min_replicas > self.max_replicas:
            raise TrafficError(f"Min replicas ({self.min_replicas}) is larger than max ({self.max_replicas}). Lower min or raise max.")
        if self.max_replicas > 1000:
            raise TrafficError("Max replicas above 1000: Azure Container Apps allows at most 1,000 per revision.")
        if self.target < 1:
            raise TrafficError("The concurrency target must be at least 1 (0 would ask for infinite replicas).")
        if self.polling_s < 1 or self.cooldown_s < 0 or self.stabilisation_s < 0 or self.startup_s < 0:
            raise TrafficError("Polling must be >= 1 s; cooldown, stabilisation and start-up must be >= 0 s.")
        if self.hpa_sync_s < 1:
            raise TrafficError("The HPA sync period must be >= 1 s.")
        if self.metric not in METRICS:
            raise TrafficError(f"Unknown metric {self.metric!r}; use one of: {', '.join(METRICS)}.")
        if self.service_s <= 0 or self.replica_capacity < 1:
            raise TrafficError("Service time must be > 0 s and replica capacity >= 1 request.")
        self.hpa.check()
        return self


def _policies(block: dict, default: tuple[HpaPolicy, ...], where: str) -> tuple[HpaPolicy, ...]:
    if "policies" not in block:
        return default
    try:
        return tuple(HpaPolicy(str(p["type"]), int(p["value"]), int(p["periodSeconds"])) for p in block["policies"] or [])
    except (KeyError, TypeError, ValueError):
        raise TrafficError(f"{where}.policies: each needs type (Pods/Percent), value and periodSeconds.") from None


def rule_with_hpa_config(rule: ScaleRule, hpa_config: dict | None) -> ScaleRule:
    """Apply a ScaledObject's `advanced.horizontalPodAutoscalerConfig` (KEDA hands it to the HPA as is).

    Missing fields keep Kubernetes' defaults, exactly as the HPA does.
    """
    from dataclasses import replace

    behavior = (hpa_config or {}).get("behavior") or {}
    up, down = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
    try:
        hpa = HpaBehavior(
            up_policies=_policies(up, K8S_SCALE_UP, "scaleUp"), up_select=str(up.get("selectPolicy", "Max")),
            up_stabilisation_s=int(up.get("stabilizationWindowSeconds", 0)),
            down_policies=_policies(down, K8S_SCALE_DOWN, "scaleDown"),
            down_select=str(down.get("selectPolicy", "Max")))
        window = int(down.get("stabilizationWindowSeconds", 300))
    except (TypeError, ValueError):
        raise TrafficError("horizontalPodAutoscalerConfig: windows must be whole seconds.") from None
    return replace(rule, hpa=hpa, stabilisation_s=window).check()


def _policy_bound(policies: tuple[HpaPolicy, ...], select: str, events: deque, t: int, current: int, up: bool) -> int:
    """The furthest the HPA may move from `current` now, given the changes it made in each policy's period.

    As in Kubernetes: the base is the replica count at the start of the period (current minus the
    replicas added, or plus those removed, since then); "Max" picks the policy that allows most change.
    """
    if select == "Disabled":
        return current
    if not policies:
        return 10**9 if up else 0
    bounds = []
    for p in policies:
        changed = sum(n for when, n in events if when > t - p.period_s)  # added (up) or removed (down)
        base = current - changed if up else current + changed
        if up:
            step = p.value if p.kind == "Pods" else math.ceil(base * p.value / 100)
            bounds.append(base + step)
        else:
            step = p.value if p.kind == "Pods" else math.floor(base * p.value / 100)
            bounds.append(base - step)
    if up:
        return max(bounds) if select == "Max" else min(bounds)
    return min(bounds) if select == "Max" else max(bounds)


def _number(value, label: str, *, whole: bool) -> float | int:
    """One raw UI value as a number, or a TrafficError naming the box and what to enter."""
    return parse_number(value, label, whole=whole, error=TrafficError)


def rule_from_inputs(name: str, min_replicas, max_replicas, target, polling_s, cooldown_s, startup_s, metric,
                     service_s, replica_capacity) -> ScaleRule:
    """Build and check a `ScaleRule` from raw UI values (numbers may be None, floats or strings).

    Args:
        name: The setting's name in messages (e.g. "Setting A").

    Raises:
        TrafficError: If a value is empty or not a number, or the rule is impossible (see `ScaleRule.check`).
    """
    whole = {"min replicas": min_replicas, "max replicas": max_replicas, "target per replica": target,
             "polling interval (s)": polling_s, "cooldown (s)": cooldown_s, "replica start-up (s)": startup_s,
             "requests one replica can serve at once": replica_capacity}
    ints = {label: _number(value, f"{name}: {label}", whole=True) for label, value in whole.items()}
    service = _number(service_s, "Service time per request (s)", whole=False)
    if metric is None or not str(metric).strip():
        raise TrafficError(f"{name}: metric is empty. Pick one of: {', '.join(METRICS)}.")
    try:
        return ScaleRule(min_replicas=ints["min replicas"], max_replicas=ints["max replicas"],
                         target=ints["target per replica"], polling_s=ints["polling interval (s)"],
                         cooldown_s=ints["cooldown (s)"], startup_s=ints["replica start-up (s)"], metric=str(metric),
                         service_s=service, replica_capacity=ints["requests one replica can serve at once"]).check()
    except TrafficError as exc:
        raise TrafficError(f"{name}: {exc}") from None


@dataclass
class SimResult:
    """Per-second series and a summary. Arrays have one entry per simulated second."""

    traffic: np.ndarray  # arrivals per second
    replicas: np.ndarray  # allocated replicas (billed), including those still starting
    ready: np.ndarray  # replicas able to serve
    concurrency: np.ndarray  # in service + waiting
    queue: np.ndarray  # waiting at the end of the second
    wait_s: np.ndarray  # queue wait of the requests that arrived in this second
    summary: dict


def simulate(traffic: np.ndarray | list, rule: ScaleRule) -> SimResult:
    """Run the scaler second by second over `traffic` (requests per second). See the module docstring."""
    rule.check()
    arrivals = np.asarray(traffic, dtype=np.float64)
    n = len(arrivals)
    if n == 0:
        raise TrafficError("The traffic profile is empty. Pick a profile or upload per-second counts.")
    per_replica_rate = rule.replica_capacity / rule.service_s  # requests/s one ready replica can finish
    replicas_out = np.zeros(n, dtype=np.int32)
    ready_out = np.zeros(n, dtype=np.int32)
    conc_out = np.zeros(n)
    queue_out = np.zeros(n)
    served_out = np.zeros(n)

    # When each allocated replica is (or will be) ready. Appends are always >= earlier entries (same
    # start-up time), so the list stays sorted and bisect counts the ready ones.
    ready_at: list[int] = [0] * rule.min_replicas
    backlog = 0.0
    hpa_sum = 0.0  # metric summed since the HPA's last sync
    keda_active = False  # any request (arriving or waiting) since KEDA's last poll
    last_active = -10**9  # time of the last KEDA poll that saw activity
    recs: deque[tuple[int, int]] = deque()  # (time, recommendation) for the stabilisation window
    ups: deque[tuple[int, int]] = deque()  # (time, replicas added by the HPA) for the scale-up policies
    downs: deque[tuple[int, int]] = deque()  # (time, replicas removed by the HPA) for the scale-down policies
    longest = max([p.period_s for p in (*rule.hpa.up_policies, *rule.hpa.down_policies)] + [1])
    cold_starts = 0
    zero_at: list[int] = []  # seconds when the app went from 1 to 0 replicas

    def resize(target: int, t: int) -> None:
        nonlocal ready_at, cold_starts
        current = len(ready_at)
        if target > current:
            cold_starts += current == 0
            ready_at += [t + rule.startup_s] * (target - current)
        elif target < current:
            ready_at = ready_at[:target]  # keep the ready ones, drop the newest
            if target == 0:
                zero_at.append(t)

    for t in range(n):
        # 1-2. Serve what the ready replicas can, first come first served.
        n_ready = bisect.bisect_right(ready_at, t)
        total = backlog + arrivals[t]
        served = min(total, n_ready * per_replica_rate)
        backlog = total - served
        concurrency = served * rule.service_s + backlog  # Little's law for the ones in service
        hpa_sum += arrivals[t] if rule.metric == "aca_rate" else concurrency
        keda_active = keda_active or arrivals[t] > 0 or backlog > 0
        # 3a. KEDA polls: activation 0 -> 1, and 1 -> 0 after the cooldown without activity.
        if t % rule.polling_s == 0:
            if keda_active:
                last_active = t
                if not ready_at:
                    resize(max(1, rule.min_replicas), t)
            elif ready_at and rule.min_replicas == 0 and t - last_active >= rule.cooldown_s:
                resize(0, t)
                recs.clear()
                ups.clear()
                downs.clear()
            keda_active = False
        # 3b. The HPA syncs: 1 <-> N by ceil(metric / target), scale-down stabilised.
        if t % rule.hpa_sync_s == 0:
            metric = hpa_sum / rule.hpa_sync_s if t else hpa_sum
            hpa_sum = 0.0
            current = len(ready_at)
            if current:
                desired = min(max(math.ceil(metric / rule.target - 1e-9), rule.min_replicas, 1), rule.max_replicas)
                recs.append((t, desired))
                while recs[0][0] < t - max(rule.stabilisation_s, rule.hpa.up_stabilisation_s):
                    recs.popleft()
                if desired < current:
                    window = [r for when, r in recs if when >= t - rule.stabilisation_s]
                    desired = min(current, max(window))
                    desired = max(desired, _policy_bound(rule.hpa.down_policies, rule.hpa.down_select, downs, t,
                                                         current, up=False), 1)
                elif desired > current:
                    # Scale-up: the lowest recommendation of its (default 0 s) window, then the rate policies.
                    window = [r for when, r in recs if when >= t - rule.hpa.up_stabilisation_s]
                    desired = max(current, min(window))
                    desired = min(desired, _policy_bound(rule.hpa.up_policies, rule.hpa.up_select, ups, t,
                                                         current, up=True))
                while ups and ups[0][0] <= t - longest:
                    ups.popleft()
                while downs and downs[0][0] <= t - longest:
                    downs.popleft()
                if desired > current:
                    ups.append((t, desired - current))
                elif desired < current:
                    downs.append((t, current - desired))
                resize(desired, t)
        replicas_out[t] = len(ready_at)
        ready_out[t] = n_ready
        conc_out[t] = concurrency
        queue_out[t] = backlog
        served_out[t] = served
    wait = _fifo_waits(arrivals, served_out)
    return SimResult(arrivals, replicas_out, ready_out, conc_out, queue_out, wait,
                     _summary(arrivals, replicas_out, wait, rule, cold_starts, zero_at))


def _fifo_waits(arrivals: np.ndarray, served: np.ndarray) -> np.ndarray:
    """Queue wait of each second's arrivals, from cumulative arrival/departure curves (FIFO).

    The middle request of second t's cohort sits at position A[t-1] + a[t]/2; it starts service
    when the cumulative served count reaches it, interpolated within that second.
    """
    cum_a = np.cumsum(arrivals)
    cum_d = np.cumsum(served)
    prev_a = cum_a - arrivals
    pos = prev_a + arrivals / 2
    idx = np.searchsorted(cum_d, pos - 1e-9, side="left")  # first second whose departures reach pos
    n = len(arrivals)
    idx_c = np.minimum(idx, n - 1)
    before = np.where(idx_c > 0, cum_d[np.maximum(idx_c - 1, 0)], 0.0)
    in_second = np.maximum(served[idx_c], 1e-12)
    frac = np.clip((pos - before) / in_second, 0, 1)
    depart = np.where(idx < n, idx_c + frac, n)  # not served by the end: censored at the end
    wait = np.maximum(0.0, depart - (np.arange(n) + 0.5))
    return np.where(arrivals > 0, wait, 0.0)


def _weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    if weights.sum() <= 0:
        return 0.0
    order = np.argsort(values)
    cw = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cw, q / 100 * cw[-1])])


def _summary(arrivals, replicas, wait, rule: ScaleRule, cold_starts: int, zero_at: list[int]) -> dict:
    latency = wait + rule.service_s
    replica_seconds = int(replicas.sum())
    seen = np.nonzero(arrivals > 0)[0]
    last_request = int(seen[-1]) if len(seen) else None
    after = [z for z in zero_at if last_request is not None and z > last_request]
    return {
        "requests": int(round(arrivals.sum())),
        "peak_replicas": int(replicas.max()),
        "replica_seconds": replica_seconds,
        "cost_usd": round(replica_seconds * (rule.cpu * PRICE_VCPU_S + rule.memory_gi * PRICE_GIB_S), 4),
        "p50_latency_s": round(_weighted_percentile(latency, arrivals, 50), 3),
        "p95_latency_s": round(_weighted_percentile(latency, arrivals, 95), 3),
        "p99_latency_s": round(_weighted_percentile(latency, arrivals, 99), 3),
        "max_wait_s": round(float(wait.max()), 2),
        "requests_waiting_over_1s": int(round(arrivals[wait > 1].sum())),
        "cold_starts": cold_starts,
        "last_request_s": last_request,
        "zero_after_last_request_s": (after[0] - last_request) if after else None,
        "rule": asdict(rule),
    }


# --- Traffic profiles ---------------------------------------------------------------------------
def profile_idle_ramp_burst_idle(*, idle_s: int = 300, ramp_s: int = 900, ramp_peak: float = 30,
                                 burst_s: int = 120, burst_rate: float = 200, tail_s: int = 2_280) -> np.ndarray:
    """The issue's shape: idle, a linear ramp, a burst, then idle long enough to see scale-to-zero."""
    return np.concatenate([
        np.zeros(idle_s),
        np.linspace(0, ramp_peak, ramp_s),
        np.full(burst_s, float(burst_rate)),
        np.zeros(tail_s),
    ])


def profile_business_day(*, peak: float = 60, seed: int = 0) -> np.ndarray:
    """86,400 s: quiet night, morning rise, lunch dip, evening fall, Poisson noise."""
    t = np.arange(86_400) / 3600.0
    shape = np.clip(np.sin((t - 7) / 12 * np.pi), 0, None) ** 2 * (1 - 0.3 * np.exp(-((t - 12.5) ** 2) / 0.5))
    rng = np.random.default_rng(seed)
    return rng.poisson(shape * peak).astype(np.float64)


def profile_spiky(*, seconds: int = 3_600, spikes: int = 6, rate: float = 150, seed: int = 1) -> np.ndarray:
    """Mostly idle, with short random spikes: the hard case for scale-to-zero (cold starts)."""
    rng = np.random.default_rng(seed)
    traffic = np.zeros(seconds)
    for start in rng.integers(0, max(1, seconds - 60), spikes):
        traffic[start:start + int(rng.integers(5, 40))] = rate
    return traffic


PROFILES = {
    "idle → ramp → burst → idle (1 h)": profile_idle_ramp_burst_idle,
    "business day (24 h)": profile_business_day,
    "spiky (1 h)": profile_spiky,
}


def parse_traffic(path: str | Path) -> np.ndarray:
    """Read per-second request counts from a CSV or text file.

    Accepted: one number per line; or CSV whose last column holds the counts (a header row is
    skipped). Counts must be finite, >= 0, at most `MAX_SECONDS` rows.

    Raises:
        TrafficError: With the line number and a fix for anything else.
    """
    if path is None or str(path) == "":
        raise TrafficError("No traffic file was given. Upload a .csv/.txt with one request count per second.")
    p = Path(path)
    if not p.is_file():
        raise TrafficError(f"The file '{p.name}' could not be found on the server. Upload it again.")
    size = p.stat().st_size
    if size == 0:
        raise TrafficError(f"'{p.name}' is empty. It needs one request count per line (per second).")
    if size > MAX_UPLOAD_BYTES:
        raise TrafficError(f"'{p.name}' is {size / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB.")
    raw = p.read_bytes()
    if b"\x00" in raw[:4096]:
        raise TrafficError(f"'{p.name}' is a binary file, not text. Upload a CSV or plain text file.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TrafficError(f"'{p.name}' is not UTF-8 text. Save it as UTF-8 CSV and upload it again.") from None
    values: list[float] = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row if c.strip()]
        if not cells:
            continue
        try:
            value = float(cells[-1])
        except ValueError:
            if lineno == 1 and not values:
                continue  # a header row
            raise TrafficError(f"Line {lineno} of '{p.name}': {cells[-1]!r} is not a number. "
                               "Each line needs a request count (the last column of a CSV).") from None
        if not math.isfinite(value) or value < 0:
            raise TrafficError(f"Line {lineno} of '{p.name}': {cells[-1]} is not a count >= 0.")
        if value > MAX_RATE:
            raise TrafficError(f"Line {lineno} of '{p.name}': {value:g} requests in one second is above the "
                               f"{MAX_RATE:,} limit; is the column requests per second?")
        values.append(value)
        if len(values) > MAX_SECONDS:
            raise TrafficError(f"'{p.name}' has more than {MAX_SECONDS:,} rows (a week at 1 s). Trim it.")
    if not values:
        raise TrafficError(f"'{p.name}' has no numbers. It needs one request count per line (per second).")
    return np.asarray(values)
