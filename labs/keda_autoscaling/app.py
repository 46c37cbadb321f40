"""Lab 2 · KEDA autoscaling on Azure Container Apps: generate, validate, simulate, load-test (UI only)."""

from __future__ import annotations

from functools import partial

import gradio as gr
import numpy as np

from labs import get
from labs.keda_autoscaling import arm_standin, az_stub, az_stub_cli, calibrate, loadtest, simulate, templates, validate
from labs.keda_autoscaling.settings import CPU_MEMORY_PAIRS, PLATFORM_MAX_REPLICAS, DeploySettings, check_settings
from shared.ui import HEAVY, code_panel, friendly, header, missing_banner, serve

LAB = get("keda_autoscaling")
D = DeploySettings()

WHERE = """**What runs where.** No Azure account and no Kubernetes cluster are used here.
*Real on this machine:* the generated files and their validators (hadolint, shellcheck, the Bicep parser,
the Azure SDK's model classes, kubernetes-validate, KEDA's models and the HTTP add-on's CRD schema), the
simulator, and the load tests: real replica **processes on 127.0.0.1**, real HTTP, a real shared queue
(SQLite standing in for Azure Storage Queue / Service Bus) and a KEDA-style scaler loop, with time compressed.
*Run here against local stand-ins:* the SDK script (real Azure SDK clients → an ARM stand-in on 127.0.0.1, fake
token) and the CLI script (bash, with a stub `az` that reproduces the cooldown reset).
*Only on Azure:* the real deployment (ACR build, Container Apps environment, KEDA); the Bicep file is parsed, not
compiled (no Bicep CLI offline)."""

TRAPS = """### Traps, and where this lab handles them
- **KEDA's `cooldownPeriod` only covers the last replica (1 → 0).** N → N-1 is the Kubernetes HPA's
  job, with its own scale-down stabilisation window (300 s by default). The simulator models both; watch
  replicas step down long before the 900 s cooldown removes the last one.
- **`az containerapp update --image` has been reported to reset `cooldownPeriod` to 300**
  (Azure/azure-cli-extensions#10334). `deploy_aca.sh` re-asserts 900 after every create/update and reads
  it back (`assert_scale`, `verify_scale`); `deploy_aca.py` reads it back too. *Run … locally* in tab 1
  reproduces the reset with a stub `az` and shows `verify_scale` catching it.
- **The HPA rate-limits scale-up too.** At most +100 % or +4 pods per 15 s (whichever is more), so a
  burst from one replica goes 1 → 5 → 10, not 1 → 10. The simulator models it; on AKS the ScaledObject's
  `advanced.horizontalPodAutoscalerConfig.behavior` changes it, ACA exposes no such setting.
- **Cold start from zero.** The first request after idle waits for KEDA's next poll (up to
  `pollingInterval`) plus image pull and start-up. The simulator's "queue wait" shows it; min replicas 1
  removes it at the price of one always-on replica.
- **ACA's HTTP "concurrent requests" is a rate:** requests in the last 15 s divided by 15, not requests
  in flight. The KEDA HTTP add-on on AKS uses requests in flight. The simulator offers both metrics."""

DISCUSSION = """### The pipeline: Docker → Azure Container Registry → Container Apps → KEDA
1. **Build once, in the registry.** `az acr build` runs the Dockerfile in ACR Tasks: no Docker engine on
   the developer's machine, and every replica pulls the same immutable tag.
2. **Pull with an identity, not a password.** A managed identity with *AcrPull* on the registry; the
   registry's admin user stays off.
3. **One environment, many apps.** The Container Apps environment is the boundary (network, Log
   Analytics); each container app is a set of revisions, each revision a set of replicas.
4. **KEDA decides how many replicas.** The HTTP rule's target per replica, min/max replicas, polling
   interval and cooldown are all in the generated files: in this lab 0..10 replicas, zero after 15 minutes.

Why this is the most scalable pattern: stateless replicas behind one ingress scale out horizontally
with no coordination between them, the registry serves the same image to 1 or 1,000 of them, and
scale to zero costs nothing while idle.

### Coordinating load across replicas (measured in tab 3)
- **Round-robin** (what a plain load balancer does) sends the next request to the next replica even if it
  is stuck on a slow job: short requests queue behind long ones, the tail latency grows.
- **A shared work queue (competing consumers)**: idle replicas pull the next job, so no replica sits
  idle while another has a backlog. It is also the natural KEDA trigger for workers (queue length).
- **Idempotent retries**: a replica can commit work and die before answering; the caller retries. Without
  an idempotency key the side effect happens twice; with a unique key it happens once.
- **A lease for singleton work**: every replica runs the same code, so a "nightly job" runs once per
  replica unless one of them holds a lease (a blob lease, a database row). A lease with a time-to-live
  also fails over when its holder dies.
"""


def _settings(app, resource_group, location, registry, workspace, environment, identity, image, tag,
              min_r, max_r, concurrency, cooldown, polling, size) -> DeploySettings:
    return check_settings(app=app, resource_group=resource_group, location=location, registry=registry,
                          workspace=workspace, environment=environment, identity=identity, image=image, tag=tag,
                          min_replicas=min_r, max_replicas=max_r, concurrency=concurrency, cooldown_s=cooldown,
                          polling_s=polling, size=size)


@friendly
def generate(app, resource_group, location, registry, workspace, environment, identity, image, tag,
             min_r, max_r, concurrency, cooldown, polling, size):
    """Check the settings, render every file, validate them with the real tools."""
    s = _settings(app, resource_group, location, registry, workspace, environment, identity, image, tag,
                  min_r, max_r, concurrency, cooldown, polling, size)
    files = templates.generate_bundle(s)
    findings = validate.validate_bundle(files, s)
    zip_path = templates.write_bundle(files, templates.new_bundle_folder())
    counts = {level: sum(f.level == level for f in findings) for level in ("ok", "warning", "error", "skipped")}
    verdict = "✅ every check passed" if not counts["error"] else f"❌ {counts['error']} check(s) failed"
    summary = (f"**{verdict}** · {counts['ok']} ok, {counts['warning']} warnings, {counts['skipped']} skipped. "
               f"Scale: {s.min_replicas}..{s.max_replicas} replicas, {s.concurrency} concurrent requests per replica, "
               f"cooldown {s.cooldown_s} s, polling {s.polling_s} s. Image `{s.full_image}`.")
    rows = [f.row() for f in findings]
    return (summary, rows, str(zip_path), *[files[name] for name in templates.FILES])


@friendly
def run_scripts(app, resource_group, location, registry, workspace, environment, identity, image, tag,
                min_r, max_r, concurrency, cooldown, polling, size, progress=gr.Progress()):
    """Generate the bundle, then run deploy_aca.py against the local ARM stand-in and deploy_aca.sh with the stub az."""
    s = _settings(app, resource_group, location, registry, workspace, environment, identity, image, tag,
                  min_r, max_r, concurrency, cooldown, polling, size)
    folder = templates.new_bundle_folder()
    templates.write_bundle(templates.generate_bundle(s), folder)
    progress(0.1, desc="python deploy_aca.py infra && app → ARM stand-in on 127.0.0.1")
    sdk = arm_standin.run_sdk_script(folder / "deploy_aca.py")
    progress(0.6, desc="bash deploy_aca.sh with the stub az")
    cli = az_stub.run_cli_scenario(folder, cooldown_s=s.cooldown_s, app=s.app, resource_group=s.resource_group,
                                   registry=s.registry, image=s.image)
    requests = [[r["method"], r["path"], r["api_version"], r["status"]] for r in sdk["requests"]]
    steps = [[st["command"], st["returncode"], st["cooldown_after"], "\n".join(st["az_calls"]), st["output"]]
             for st in cli["steps"]]
    scale = sdk["scale"] or {}
    sdk_ok = sdk["returncode"] == 0 and scale.get("cooldownPeriod") == s.cooldown_s
    text = (f"**deploy_aca.py** {'✅ ran' if sdk_ok else '❌ failed'} in {sdk['wall_s']} s: {len(requests)} requests to the "
            f"local ARM stand-in (real azure-mgmt-* clients, fake token credential), {len(sdk['resources'])} resources "
            f"created; the container app's stored scale block: min {scale.get('minReplicas')}, max "
            f"{scale.get('maxReplicas')}, cooldown {scale.get('cooldownPeriod')} s.\n\n"
            f"**deploy_aca.sh** with the stub `az`: deploy {'✅' if cli['deployed'] else '❌'} (cooldown set to "
            f"{s.cooldown_s}); after a plain `az containerapp update --image` the cooldown was "
            f"{cli['steps'][1]['cooldown_after']} and `verify_scale` "
            f"{'✅ caught it (exit 1)' if cli['caught'] else '❌ did not catch it'}; `./deploy_aca.sh redeploy v3` "
            f"{'✅ re-asserted ' + str(s.cooldown_s) + ' s' if cli['fixed'] else '❌ did not restore it'}.")
    if not sdk_ok:
        text += f"\n\n```\n{sdk['output'][-1500:]}\n```"
    return text, requests, steps


@friendly
def run_policies(profile, upload, service_s, capacity, a_min, a_max, a_target, a_polling, a_cooldown, a_startup,
                 a_metric, progress=gr.Progress()):
    """Setting A with the HPA's default scale-up policies vs without any rate limit."""
    from dataclasses import replace

    from labs.keda_autoscaling.charts import simulation_figure

    rule = simulate.rule_from_inputs("Setting A", a_min, a_max, a_target, a_polling, a_cooldown, a_startup, a_metric,
                                     service_s, capacity)
    if upload:
        traffic, source = simulate.parse_traffic(upload), "uploaded file"
    else:
        if profile not in simulate.PROFILES:
            raise simulate.TrafficError(f"Unknown profile {profile!r}; pick one of: {', '.join(simulate.PROFILES)}.")
        traffic, source = simulate.PROFILES[profile](), profile
    progress(0.2, desc="simulating with and without the scale-up policies")
    on = simulate.simulate(traffic, rule)
    off = simulate.simulate(traffic, replace(rule, hpa=simulate.UNLIMITED))
    a, b = on.summary, off.summary
    jump = [int(np.diff(r.replicas, prepend=0).max()) for r in (on, off)]  # the largest scale-up in one step
    note = (f"`{source}`, setting A. **With** Kubernetes' default scale-up policies (double or +4 pods per 15 s) vs "
            f"**without** a rate limit: the largest scale-up in one step {jump[0]} vs {jump[1]} replicas (peak "
            f"{a['peak_replicas']} vs {b['peak_replicas']}); p95 latency {a['p95_latency_s']} s vs {b['p95_latency_s']} s; requests waiting "
            f"over 1 s {a['requests_waiting_over_1s']:,} vs {b['requests_waiting_over_1s']:,}; "
            f"{a['replica_seconds']:,} vs {b['replica_seconds']:,} replica-seconds.")
    if (a["replica_seconds"], a["p95_latency_s"]) == (b["replica_seconds"], b["p95_latency_s"]):
        note += (" Here the traffic rises slowly enough that the limit never binds; pick *spiky* or upload a burst "
                 "from zero to see it.")
    return simulation_figure({"policies on": on, "no rate limit": off}, title=f"{source}: HPA scale-up policies"), note


@friendly
def run_simulation(profile, upload, service_s, capacity,
                   a_min, a_max, a_target, a_polling, a_cooldown, a_startup, a_metric,
                   b_min, b_max, b_target, b_polling, b_cooldown, b_startup, b_metric, progress=gr.Progress()):
    """Simulate settings A and B on the same traffic; chart and compare them."""
    from labs.keda_autoscaling.charts import simulation_figure

    progress(0.0, desc="checking the settings")
    rules = {"A": simulate.rule_from_inputs("Setting A", a_min, a_max, a_target, a_polling, a_cooldown, a_startup,
                                            a_metric, service_s, capacity),
             "B": simulate.rule_from_inputs("Setting B", b_min, b_max, b_target, b_polling, b_cooldown, b_startup,
                                            b_metric, service_s, capacity)}
    progress(0.05, desc="reading the traffic")
    if upload:
        traffic, source = simulate.parse_traffic(upload), "uploaded file"
    else:
        if profile not in simulate.PROFILES:
            raise simulate.TrafficError(f"Unknown profile {profile!r}; pick one of: {', '.join(simulate.PROFILES)}.")
        traffic, source = simulate.PROFILES[profile](), profile
    results = {}
    for i, (name, rule) in enumerate(rules.items()):
        progress(0.1 + 0.4 * i, desc=f"simulating setting {name} ({len(traffic):,} s)")
        results[name] = simulate.simulate(traffic, rule)
    progress(0.9, desc="drawing the chart")
    keys = ["requests", "peak_replicas", "replica_seconds", "cost_usd", "p50_latency_s", "p95_latency_s",
            "p99_latency_s", "max_wait_s", "requests_waiting_over_1s", "cold_starts", "zero_after_last_request_s"]
    table = [[key, results["A"].summary[key], results["B"].summary[key]] for key in keys]
    a, b = results["A"].summary, results["B"].summary
    note = (f"Simulated {len(traffic):,} s of `{source}` ({a['requests']:,} requests). "
            f"A used {a['replica_seconds']:,} replica-seconds (≈ ${a['cost_usd']}), B {b['replica_seconds']:,} "
            f"(≈ ${b['cost_usd']}); p95 latency A {a['p95_latency_s']} s vs B {b['p95_latency_s']} s. "
            "Costs use pay-as-you-go active rates for 0.5 vCPU / 1 GiB, before free grants.")
    return simulation_figure(results, title=f"{source}: A vs B"), table, note


@friendly
def run_loadtest(peak_rps, max_r, target, work_ms, compression, nested, progress=gr.Progress()):
    """Real processes on 127.0.0.1 scaled by the KEDA rule; the time axis compressed."""
    from labs.keda_autoscaling.charts import calibration_figure, loadtest_figure

    profile = loadtest.compressed_profile(peak_rps=float(peak_rps), burst_rps=float(peak_rps) * 1.75)
    coro = loadtest.autoscale_test(profile, target=int(target), max_replicas=int(max_r), work_ms=int(work_ms),
                                   compression=float(compression), progress=lambda f, m: progress(f, desc=m))
    result, path = loadtest.run_coroutine(coro, inside_running_loop=bool(nested))
    cal = calibrate.calibrate(profile, result, target=int(target), max_replicas=int(max_r), work_ms=int(work_ms))
    timeline = result.pop("timeline")
    result.pop("request_log", None)
    fig = loadtest_figure(timeline, target=int(target), max_replicas=int(max_r))
    ws = result["wall_settings"]
    text = (f"**Measured on 127.0.0.1** ({path}). {result['requests']} requests, {result['errors']} errors; latency "
            f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms (work {int(work_ms)} ms). "
            f"Peak {result['peak_replicas']} replica processes; each started in ≈ {result['replica_startup_ms']} ms "
            f"(real, not compressed; on Azure expect seconds to tens of seconds). Longest cold-start hold "
            f"{result['max_cold_wait_ms']} ms. Compression ×{compression:g}: polling {ws['polling_s']} s, "
            f"stabilisation {ws['stabilisation_s']} s, cooldown {ws['cooldown_s']} s of wall time. "
            f"Last replica removed {result['zero_after_last_request_wall_s']} s after the last request "
            f"(= {result['zero_after_last_request_azure_s']} Azure seconds). "
            f"All processes stopped: {result['all_stopped']}.")
    steps = cal["rule_steps"]
    cal_text = (f"**Simulator vs measured**, same traffic and rule (in-flight metric, compressed windows, measured "
                f"start-up {steps['startup'] * steps['dt_s']:.1f} s, steps of {steps['dt_s']} s): replicas mean absolute "
                f"error **{cal['replicas_mae']}** (peak {cal['peak']['measured']} measured, {cal['peak']['simulated']} "
                f"simulated); per-second latency mean absolute error **{cal['latency_mae_ms']} ms**; p50 "
                f"{cal['p50_ms']['measured']} vs {cal['p50_ms']['simulated']} ms, p95 {cal['p95_ms']['measured']} vs "
                f"{cal['p95_ms']['simulated']} ms (measured vs simulated). The simulator leaves out HTTP and process "
                "overheads and the replica drain on scale-down, so expect it to be a little optimistic.")
    return fig, text, calibration_figure(cal), cal_text


@friendly
def run_patterns(replicas, jobs, fail_rate, progress=gr.Progress()):
    """Round-robin vs shared queue, retries with/without idempotency, singleton with/without a lease."""
    from labs.keda_autoscaling.charts import patterns_figure

    coro = loadtest.patterns_test(replicas=int(replicas), jobs=int(jobs), fail_rate=float(fail_rate),
                                  progress=lambda f, m: progress(f, desc=m))
    result, _ = loadtest.run_coroutine(coro)
    n = result["notes"]
    rr, q = result["rows"]
    naive, idem = n["retries_naive"], n["retries_idempotent"]
    free, lease = n["singleton_no_lock"], n["singleton_lease"]
    table = [
        ["round-robin HTTP", f"p50 {rr['p50_ms']} / p95 {rr['p95_ms']} / p99 {rr['p99_ms']} ms", f"makespan {rr['makespan_s']} s"],
        ["shared queue (competing consumers)", f"p50 {q['p50_ms']} / p95 {q['p95_ms']} / p99 {q['p99_ms']} ms",
         f"makespan {q['makespan_s']} s; jobs per consumer {sorted(n['queue_jobs_per_consumer'].values())}"],
        ["retries, no idempotency key", f"{naive['side_effects']} side effects for {naive['keys']} orders",
         f"{naive['duplicates']} duplicates after {naive['attempts']} attempts"],
        ["retries, idempotency key", f"{idem['side_effects']} side effects for {idem['keys']} orders",
         f"{idem['duplicates']} duplicates after {idem['attempts']} attempts"],
        ["singleton job, no lock", f"up to {free['max_runs_in_one_tick']} runs per tick",
         f"{free['runs']} runs in {free['ticks']} ticks by {free['workers_that_ran']} replicas"],
        ["singleton job, lease", f"up to {lease['max_runs_in_one_tick']} run per tick",
         f"{lease['runs']} runs in {lease['ticks']} ticks; holder killed, another took over after "
         f"{lease.get('takeover_after_kill_ms')} ms"],
    ]
    text = (f"Measured with {result['replicas']} real replica processes and {result['jobs']} jobs (85% take 20 ms, "
            f"15% take 250 ms). All processes stopped: {result['all_stopped']}.")
    return patterns_figure(result["rows"]), table, text


SIM_EXAMPLES = [
    ("Burst: min 0 vs min 1", [next(iter(simulate.PROFILES)), None, 0.5, 20, 0, 10, 10, 30, 900, 10, "aca_rate",
                               1, 10, 10, 30, 900, 10, "aca_rate"]),
    ("Spiky: slow vs fast polling and start-up", ["spiky (1 h)", None, 0.5, 20, 0, 10, 10, 30, 900, 10, "aca_rate",
                                                  0, 10, 10, 5, 900, 3, "aca_rate"]),
    # The same target under both metrics: at 0.5 s per request, 10 in flight is 20 requests/s (Little's law),
    # so B needs about half of A's replicas. (Target 5 in flight would equal A's 10 requests/s exactly.)
    ("A day: ACA rate vs in-flight metric", ["business day (24 h)", None, 0.5, 20, 0, 10, 10, 30, 900, 10, "aca_rate",
                                             0, 10, 10, 30, 900, 10, "concurrency"]),
]


def load_example(i: int) -> list:
    """Fill the simulator's inputs with example `i`."""
    return list(SIM_EXAMPLES[i][1])


SIZES = [f"{c:g} vCPU / {m:g} GiB" for c, m in CPU_MEMORY_PAIRS]
METRIC_CHOICES = [(label, key) for key, label in simulate.METRICS.items()]

with gr.Blocks(title=LAB.title) as demo:
    header(LAB, extra=WHERE)
    missing_banner(LAB)
    with gr.Tabs():
        with gr.Tab("1 · Generate & validate"):
            gr.Markdown("Pick names and scale settings; get the app, Dockerfile, Azure CLI script, Bicep, SDK script and "
                        "AKS manifests, each checked by a real validator. Defaults: 0..10 replicas, zero after 15 minutes.")
            with gr.Row():
                g_min = gr.Number(D.min_replicas, label="Min replicas", precision=0, minimum=0, maximum=PLATFORM_MAX_REPLICAS)
                g_max = gr.Number(D.max_replicas, label="Max replicas", precision=0, minimum=1, maximum=PLATFORM_MAX_REPLICAS)
                g_conc = gr.Number(D.concurrency, label="Concurrent requests per replica", precision=0, minimum=1)
                g_cool = gr.Number(D.cooldown_s, label="Cooldown (s) before 1 → 0", precision=0, minimum=0)
                g_poll = gr.Number(D.polling_s, label="Polling interval (s)", precision=0, minimum=1)
                g_size = gr.Dropdown(SIZES, value="0.5 vCPU / 1 GiB", label="Replica size")
            with gr.Accordion("Azure names", open=False):
                with gr.Row():
                    g_app = gr.Textbox(D.app, label="Container app")
                    g_rg = gr.Textbox(D.resource_group, label="Resource group")
                    g_loc = gr.Textbox(D.location, label="Location")
                    g_acr = gr.Textbox(D.registry, label="Container registry (globally unique)")
                with gr.Row():
                    g_law = gr.Textbox(D.workspace, label="Log Analytics workspace")
                    g_env = gr.Textbox(D.environment, label="Container Apps environment")
                    g_id = gr.Textbox(D.identity, label="Managed identity")
                    g_img = gr.Textbox(D.image, label="Image repository")
                    g_tag = gr.Textbox(D.tag, label="Image tag")
            g_btn = gr.Button("Generate and validate", variant="primary", elem_id="keda_autoscaling-generate")
            g_summary = gr.Markdown(elem_id="keda_autoscaling-gen-summary")
            g_table = gr.Dataframe(headers=["file", "tool", "result", "details"], label="Validation findings",
                                   interactive=False, wrap=True)
            g_zip = gr.File(label="Download all files (zip)")
            code_boxes = []
            with gr.Tabs():
                for name, (_, lang) in templates.FILES.items():
                    with gr.Tab(name):
                        code_boxes.append(gr.Code(language=lang, label=name, interactive=False))
            gr.Markdown("### Run the deploy scripts for real, against local stand-ins\n"
                        "`deploy_aca.py` runs end to end with the real Azure SDK clients, their `base_url` pointed at an "
                        "ARM stand-in this lab starts on 127.0.0.1 (PUT/GET/long-running operations, a fake token "
                        "credential). `deploy_aca.sh` runs with a stub `az` first on PATH that reproduces the cooldown "
                        "reset on `az containerapp update --image`: watch `verify_scale` catch it and `redeploy` fix it. "
                        "Nothing reaches Azure. About 3 s.")
            r_btn = gr.Button("Run deploy_aca.py and deploy_aca.sh locally", elem_id="keda_autoscaling-run-scripts")
            r_summary = gr.Markdown(elem_id="keda_autoscaling-run-summary")
            r_requests = gr.Dataframe(headers=["method", "path", "api-version", "status"],
                                      label="Requests deploy_aca.py sent to the ARM stand-in", interactive=False, wrap=True)
            r_steps = gr.Dataframe(headers=["command", "exit code", "cooldown after", "az calls", "output"],
                                   label="deploy_aca.sh with the stub az", interactive=False, wrap=True)
            code_panel(arm_standin.run_sdk_script, arm_standin.ArmStandIn, az_stub.run_cli_scenario, az_stub_cli.main,
                       label="Show the code (stand-ins)")
            gr.Markdown(TRAPS)
            code_panel(check_settings, templates.generate_bundle, templates.render_cli_script, validate.validate_bundle,
                       validate.check_sdk_script, validate.check_k8s)
            g_inputs = [g_app, g_rg, g_loc, g_acr, g_law, g_env, g_id, g_img, g_tag, g_min, g_max, g_conc, g_cool,
                        g_poll, g_size]
            g_btn.click(generate, g_inputs, [g_summary, g_table, g_zip, *code_boxes], api_name="keda_autoscaling_generate",
                        **HEAVY)
            r_btn.click(run_scripts, g_inputs, [r_summary, r_requests, r_steps], api_name="keda_autoscaling_run_scripts",
                        **HEAVY)

        with gr.Tab("2 · Simulate"):
            gr.Markdown("Second by second: KEDA's polls and cooldown, the HPA's 15 s syncs, scale-up policies and scale-down "
                        "stabilisation, "
                        "cold starts, queue waits (\"web waits\") and replica-seconds (cost). Compare two settings.")
            with gr.Row():
                s_profile = gr.Dropdown(list(simulate.PROFILES), value=next(iter(simulate.PROFILES)), label="Traffic profile")
                s_upload = gr.File(label="…or upload per-second request counts (.csv/.txt)", file_types=[".csv", ".txt"])
                s_service = gr.Number(0.5, label="Service time per request (s)", minimum=0.01)
                s_capacity = gr.Number(20, label="Requests one replica can serve at once", precision=0, minimum=1)
            side = {}
            with gr.Row():
                for name, cooldown, target in (("A", 900, 10), ("B", 300, 20)):
                    with gr.Column():
                        gr.Markdown(f"**Setting {name}**")
                        side[name] = [
                            gr.Number(0, label="min replicas", precision=0, minimum=0),
                            gr.Number(10, label="max replicas", precision=0, minimum=1),
                            gr.Number(target, label="target per replica", precision=0, minimum=1),
                            gr.Number(30, label="polling interval (s)", precision=0, minimum=1),
                            gr.Number(cooldown, label="cooldown (s)", precision=0, minimum=0),
                            gr.Number(10, label="replica start-up (s)", precision=0, minimum=0),
                            gr.Dropdown(METRIC_CHOICES, value="aca_rate", label="metric"),
                        ]
            gr.Markdown("**Examples** (one click fills both settings and runs them), or set your own and press *Simulate A vs B*:")
            with gr.Row():
                example_buttons = [gr.Button(label, size="sm", elem_id=f"keda_autoscaling-example-{i}")
                                   for i, (label, _) in enumerate(SIM_EXAMPLES)]
            s_btn = gr.Button("Simulate A vs B", variant="primary", elem_id="keda_autoscaling-simulate")
            s_plot = gr.Plot(label="Replicas, load and waits", elem_id="keda_autoscaling-sim-plot")
            s_note = gr.Markdown(elem_id="keda_autoscaling-sim-note")
            s_table = gr.Dataframe(headers=["metric", "A", "B"], label="Comparison", interactive=False)
            s_inputs = [s_profile, s_upload, s_service, s_capacity, *side["A"], *side["B"]]
            with gr.Accordion("HPA scale-up policies: on vs off (setting A, same traffic)", open=False):
                gr.Markdown("The HPA never adds more than the larger of +100 % or +4 pods per 15 s (Kubernetes' defaults; "
                            "KEDA passes a ScaledObject's `advanced.horizontalPodAutoscalerConfig` through unchanged, "
                            "see `keda-http.yaml`). Without that limit a burst jumps from 1 to max at once. Uses the "
                            "uploaded file above if there is one, else this profile, and setting A's values.")
                h_profile = gr.Dropdown(list(simulate.PROFILES), value="spiky (1 h)", label="Traffic profile")
                h_btn = gr.Button("Compare setting A with and without the scale-up policies",
                                  elem_id="keda_autoscaling-policies")
                h_plot = gr.Plot(label="Policies on vs off")
                h_note = gr.Markdown(elem_id="keda_autoscaling-policies-note")
            code_panel(simulate.simulate, simulate._policy_bound, simulate.rule_with_hpa_config, simulate._fifo_waits,
                       simulate.parse_traffic, simulate.rule_from_inputs)
            h_btn.click(run_policies, [h_profile, s_upload, s_service, s_capacity, *side["A"]], [h_plot, h_note],
                        api_name="keda_autoscaling_policies", **HEAVY)
            s_btn.click(run_simulation, s_inputs, [s_plot, s_table, s_note], api_name="keda_autoscaling_simulate",
                        **HEAVY)
            for i, button in enumerate(example_buttons):
                button.click(partial(load_example, i), None, s_inputs, api_name=f"keda_autoscaling_example_{'abc'[i]}").then(
                    run_simulation, s_inputs, [s_plot, s_table, s_note], api_name=f"keda_autoscaling_example_{'abc'[i]}_run",
                    **HEAVY)

        with gr.Tab("3 · Local load test"):
            gr.Markdown("**Autoscaling for real, on 127.0.0.1.** Worker processes are started and stopped by a KEDA-style "
                        "scaler that polls requests in flight at an in-process interceptor. The time axis is compressed "
                        "(cooldown 900 s ÷ compression); process start-up is real. Takes about 15 s. Afterwards the simulator "
                        "replays the same traffic with the same rule, and both go on one chart with their error.")
            with gr.Row():
                l_peak = gr.Slider(10, 80, value=40, step=5, label="Ramp peak (requests/s); the burst is 1.75×")
                l_max = gr.Slider(1, loadtest.MAX_LOCAL_REPLICAS, value=4, step=1, label="Max replicas (local bound)")
                l_target = gr.Slider(1, 10, value=4, step=1, label="Target in flight per replica")
                l_work = gr.Slider(50, 500, value=200, step=50, label="Work per request (ms)")
                l_comp = gr.Slider(150, 900, value=300, step=50, label="Time compression ×")
            l_nested = gr.Checkbox(True, label="Call it from inside a running event loop, as a notebook would (nest_asyncio path)")
            l_btn = gr.Button("Run the local autoscaling test", variant="primary", elem_id="keda_autoscaling-loadtest")
            l_plot = gr.Plot(label="Measured replicas vs load")
            l_text = gr.Markdown(elem_id="keda_autoscaling-load-text")
            l_cal_plot = gr.Plot(label="Calibration: simulated vs measured")
            l_cal_text = gr.Markdown(elem_id="keda_autoscaling-calibration-text")
            l_btn.click(run_loadtest, [l_peak, l_max, l_target, l_work, l_comp, l_nested],
                        [l_plot, l_text, l_cal_plot, l_cal_text],
                        api_name="keda_autoscaling_loadtest", **HEAVY)
            gr.Markdown("**Coordinated load across replicas, measured.** Same jobs through round-robin HTTP and a shared "
                        "queue; retries after lost responses with and without an idempotency key; a singleton job with "
                        "and without a lease (the lease holder is killed half-way). About 12 s.")
            with gr.Row():
                p_rep = gr.Slider(2, loadtest.MAX_LOCAL_REPLICAS, value=3, step=1, label="Replicas")
                p_jobs = gr.Slider(20, 200, value=80, step=10, label="Jobs")
                p_fail = gr.Slider(0.0, 0.6, value=0.3, step=0.05, label="Share of responses lost after commit")
            p_btn = gr.Button("Run the pattern comparison", elem_id="keda_autoscaling-patterns")
            p_plot = gr.Plot(label="Latency by pattern")
            p_text = gr.Markdown()
            p_table = gr.Dataframe(headers=["pattern", "measured", "details"], interactive=False, wrap=True)
            p_btn.click(run_patterns, [p_rep, p_jobs, p_fail], [p_plot, p_table, p_text],
                        api_name="keda_autoscaling_patterns", **HEAVY)
            code_panel(loadtest.autoscale_test, calibrate.calibrate, calibrate.sim_rule, loadtest.patterns_test,
                       loadtest.run_coroutine)

        with gr.Tab("4 · Discussion"):
            gr.Markdown(DISCUSSION)
            gr.Markdown(TRAPS)

if __name__ == "__main__":
    serve(demo)
