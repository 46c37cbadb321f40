"""Calibrate the simulator against the real local load test: same traffic, same rule, compare.

`loadtest.autoscale_test` runs real replica processes on 127.0.0.1 with a compressed time axis.
`calibrate()` replays the same offered load through `simulate.simulate` in the load test's own
wall-clock units (one simulated step = `DT` = 0.1 s of wall time), with the rule the local scaler
implements: in-flight metric, one poll loop for KEDA and the HPA, the compressed cooldown and
stabilisation windows, the HPA's default scale-up policies per poll, `slots` requests at once per
replica, and the *measured* replica start-up time. It returns both series and the error:

* replicas: mean absolute error over the load test's samples (every 0.2 s);
* latency: mean absolute error of the per-second mean latency (requests sent in that second), and
  p50/p95 simulated vs measured.
"""

from __future__ import annotations

import math

import numpy as np

from labs.keda_autoscaling import simulate

DT = 0.1  # wall seconds per simulated step: the load test's shortest poll interval


def sim_rule(result: dict, *, target: int, max_replicas: int, min_replicas: int, work_ms: int, slots: int) -> simulate.ScaleRule:
    """The `ScaleRule` the local scaler implements, in steps of `DT` wall seconds."""
    ws = result["wall_settings"]
    poll = max(1, round(ws["polling_s"] / DT))
    startup = round((result.get("replica_startup_ms") or 0) / 1000 / DT)
    per_poll = (simulate.HpaPolicy("Percent", 100, poll), simulate.HpaPolicy("Pods", 4, poll))
    return simulate.ScaleRule(
        min_replicas=min_replicas, max_replicas=max_replicas, target=target, polling_s=poll, hpa_sync_s=poll,
        cooldown_s=round(ws["cooldown_s"] / DT), stabilisation_s=round(ws["stabilisation_s"] / DT), startup_s=startup,
        service_s=work_ms / 1000 / DT, replica_capacity=slots, metric="concurrency",
        hpa=simulate.HpaBehavior(up_policies=per_poll, down_policies=()),
    ).check()


def calibrate(profile: list[float], result: dict, *, target: int, max_replicas: int, work_ms: int, slots: int = 4,
              min_replicas: int = 0) -> dict:
    """Simulate the load test's traffic and compare with what it measured (see the module docstring)."""
    timeline = result["timeline"]
    if not timeline:
        raise ValueError("The load test recorded no samples; run it again.")
    steps_per_s = round(1 / DT)
    end = max(timeline[-1]["t"], len(profile))
    n = int(math.ceil(end / DT)) + 1
    traffic = np.zeros(n)
    for second, rps in enumerate(profile):  # each second's requests spread evenly, as the load generator does
        traffic[second * steps_per_s:(second + 1) * steps_per_s] = rps * DT
    rule = sim_rule(result, target=target, max_replicas=max_replicas, min_replicas=min_replicas, work_ms=work_ms,
                    slots=slots)
    sim = simulate.simulate(traffic, rule)

    t = np.array([row["t"] for row in timeline])
    measured_replicas = np.array([row["replicas"] for row in timeline], dtype=float)
    simulated_replicas = sim.replicas[np.minimum((t / DT).astype(int), n - 1)].astype(float)

    # Latency per wall second: the mean over the requests sent in that second.
    seconds = len(profile)
    sim_latency_ms = (sim.wait_s * DT + rule.service_s * DT) * 1000  # per step, for that step's arrivals
    sim_per_s = np.full(seconds, np.nan)
    meas_per_s = np.full(seconds, np.nan)
    log = result.get("request_log") or []
    sent = np.array([at for at, _ in log])
    lat = np.array([ms for _, ms in log])
    for s in range(seconds):
        weights = traffic[s * steps_per_s:(s + 1) * steps_per_s]
        if weights.sum() > 0:
            sim_per_s[s] = float(np.average(sim_latency_ms[s * steps_per_s:(s + 1) * steps_per_s], weights=weights))
        if len(sent):
            mask = (sent >= s) & (sent < s + 1)
            if mask.any():
                meas_per_s[s] = float(lat[mask].mean())
    both = ~np.isnan(sim_per_s) & ~np.isnan(meas_per_s)
    lat_mae = float(np.abs(sim_per_s[both] - meas_per_s[both]).mean()) if both.any() else None
    sim_p = {q: round(simulate._weighted_percentile(sim_latency_ms, traffic, q), 1) for q in (50, 95)}
    return {
        "t": t.tolist(), "measured_replicas": measured_replicas.tolist(), "simulated_replicas": simulated_replicas.tolist(),
        "seconds": list(range(seconds)), "measured_latency_ms": meas_per_s.tolist(), "simulated_latency_ms": sim_per_s.tolist(),
        "replicas_mae": round(float(np.abs(simulated_replicas - measured_replicas).mean()), 3),
        "latency_mae_ms": round(lat_mae, 1) if lat_mae is not None else None,
        "peak": {"measured": int(measured_replicas.max()), "simulated": int(simulated_replicas.max())},
        "p50_ms": {"measured": result.get("p50_ms"), "simulated": sim_p[50]},
        "p95_ms": {"measured": result.get("p95_ms"), "simulated": sim_p[95]},
        "rule_steps": {"dt_s": DT, "polling": rule.polling_s, "cooldown": rule.cooldown_s,
                       "stabilisation": rule.stabilisation_s, "startup": rule.startup_s, "service": rule.service_s},
    }
