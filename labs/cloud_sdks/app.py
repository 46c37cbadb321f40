"""Lab 8 UI: Azure, AWS and Google Cloud from Python, the same tasks three ways, on real local emulators.

UI only: the logic lives beside this file in clouds.py (facts, prices, credential chains),
emulators.py + supervise.py (local stand-ins), credentials.py (targets, secret scrubbing),
storage.py and queues.py (the SDK code that runs), runner.py (runs it on each cloud),
naming.py (naming rules) and catalogue.py (+ build_catalogue.py: all the Python libraries).
"""

from __future__ import annotations

import gradio as gr

from labs import get
from labs.cloud_sdks import catalogue, clouds, credentials, emulators, naming, queues, runner, steps, storage
from shared import serving
from shared.optional import install_hint
from shared.ui import code_panel, friendly, header, missing_banner, serve, source_of

LAB = get("cloud_sdks")
SLUG = LAB.slug
RUN = {"concurrency_limit": 4, "concurrency_id": "cloud_sdks_emulators"}  # emulators are shared; SDK calls are light
CLOUD_CHOICES = list(runner.CLOUDS)
STEP_HEADERS = ["cloud", "operation", "ms", "ok", "result", "target"]
STATUS_HEADERS = ["emulator", "stands in for", "installed here", "state"]
LIB_HEADERS = ["cloud", "package", "purpose", "category", "publisher", "latest", "released", "installed here", "status",
               "published by", "why (rule used)"]
EXAMPLE_PAYLOAD = "# Model card\nmodel: tiny-classifier v3\naccuracy: 0.94\n"
EXAMPLE_MESSAGES = "train model-a\ntrain model-b\nevaluate model-a"
SHARED = serving.is_shared()  # decided when the page is built; the logic checks again on every call


def _stand_ins() -> str:
    """Say up front which real local stand-ins replace the clouds, and whether each is installed."""
    lines = []
    for key, spec in emulators.SPECS.items():
        ok, note = emulators.available(key)
        lines.append(f"- **{spec.serves} → {spec.label}** on 127.0.0.1 "
                     + ("(installed; started on the first run, stopped at exit)" if ok else f"— ⚠️ not available: {note}"))
    absent = runner.missing_distributions()
    if absent:
        lines.append(f"- ⚠️ **SDKs not installed: {', '.join(absent)}** — install them with "
                     f"`{install_hint(SLUG)}`.")
    lines.append("- **Google Pub/Sub:** Google's emulator ships only with the gcloud CLI (Java), not on a package index, so "
                 "the lab runs its own small server that speaks Pub/Sub's real gRPC API (the unmodified client talks to it); "
                 "set PUBSUB_EMULATOR_HOST on the machine to use Google's emulator instead.")
    if serving.is_shared():
        lines.append("- **On this shared server:** its own cloud credentials are never used, endpoints must be public "
                     "hosts and need your keys typed beside them, names always get a random suffix, a real cloud's "
                     "errors show only their HTTP status and error code, and only the operator can stop the emulators.")
    return ("**What runs where.** No cloud account is needed: with no credentials every call goes to a real local "
            "emulator and each result row says which target it hit. Credentials you type select the real cloud "
            "for that provider only; they are never shown, logged or stored.\n" + "\n".join(lines))


def _creds(azure_conn, aws_key, aws_secret, aws_region, aws_endpoint, gcp_json, gcp_project, gcp_endpoint, use_env):
    return credentials.Credentials(
        azure_connection_string=azure_conn or "", aws_access_key_id=aws_key or "", aws_secret_access_key=aws_secret or "",
        aws_region=aws_region or "", aws_endpoint_url=aws_endpoint or "", gcp_service_account_json=gcp_json or "",
        gcp_project=gcp_project or "", gcp_endpoint_url=gcp_endpoint or "", use_environment=bool(use_env))


def _reporter(progress: gr.Progress, total: int):
    count = iter(range(1, 100))

    def say(message: str) -> None:
        progress(min(next(count) / total, 0.95), desc=message)

    return say


def _outputs(result: runner.RunResult):
    for cloud, why in result.failures.items():
        gr.Warning(f"{cloud}: {why}")
    return result.summary(), result.table(), emulators.status_rows()


# --- Handlers -----------------------------------------------------------------------------------

@friendly
def run_storage(chosen, base_name, unique, object_name, text, file, azure_conn, aws_key, aws_secret, aws_region,
                aws_endpoint, gcp_json, gcp_project, gcp_endpoint, use_env, progress=gr.Progress()):
    """Run the object-storage task on every chosen cloud."""
    creds = _creds(azure_conn, aws_key, aws_secret, aws_region, aws_endpoint, gcp_json, gcp_project, gcp_endpoint, use_env)
    data, _ = runner.read_payload(text, file)
    say = _reporter(progress, 2 + len(chosen or []))
    say("checking names and credentials")
    result = runner.run_storage(creds, base_name, (object_name or "").strip(), data, unique=bool(unique),
                                clouds=chosen, progress=say)
    return _outputs(result)


@friendly
def run_queues(chosen, base_name, unique, messages, azure_conn, aws_key, aws_secret, aws_region, aws_endpoint,
               gcp_json, gcp_project, gcp_endpoint, use_env, progress=gr.Progress()):
    """Run the message-queue task on every chosen cloud."""
    creds = _creds(azure_conn, aws_key, aws_secret, aws_region, aws_endpoint, gcp_json, gcp_project, gcp_endpoint, use_env)
    say = _reporter(progress, 2 + len(chosen or []))
    say("checking names and credentials")
    result = runner.run_queues(creds, base_name, runner.split_messages(messages), unique=bool(unique),
                               clouds=chosen, progress=say)
    return _outputs(result)


@friendly
def emulator_status():
    return emulators.status_rows()


@friendly
def stop_emulators():
    stopped = emulators.stop_on_request()
    note = f"Stopped: {', '.join(stopped)}." if stopped else "No emulator was running."
    return note + " The next run starts them again.", emulators.status_rows()


@friendly
def check_name(name):
    name = (name or "").strip()
    if not name:
        raise ValueError("Type a name to check, e.g. 'ml-lab-demo' or 'My_Bucket'.")
    rows = naming.check_all(name)
    ok = sum(r[1] == "valid" for r in rows)
    verdict = f"**'{name}'** is valid for {ok} of {len(rows)} resource kinds."
    if ok < len(rows):
        verdict += f" A name every cloud accepts: `{naming.suggest(name)}`."
    return verdict, rows


def _snapshot_counts() -> str:
    """One line: the snapshot's date and provenance, and the package counts per cloud."""
    snap = catalogue.load()
    totals = " · ".join(f"**{c}** {n['packages']} packages ({n['official']} official)"
                        for c, n in catalogue.counts(snap).items())
    checked = f" Publisher and status checked against the index's metadata on {snap.checked}." if snap.checked else ""
    return f"Snapshot of **{snap.date}** ({snap.source}). {totals}.{checked}"


@friendly
def search_libraries(query, cloud, category, official_only, installed_only):
    rows, matched = catalogue.search(query, cloud, category, bool(official_only), bool(installed_only))
    shown = f"{matched} matching rows" + (f", first {len(rows)} shown" if matched > len(rows) else "")
    text = (f"{_snapshot_counts()}\n\n{shown}. "
            "Rows ending in `*` fold a generated family (one package per service) into one line.")
    return text, rows


@friendly
def list_aws_services(query):
    rows, total, version = catalogue.aws_services(query)
    ml = sum(1 for r in rows if r[1])
    return (f"The installed **botocore {version}** knows **{total} AWS services** (each is a `boto3.client(name)`); "
            f"{len(rows)} match, {ml} of them ML/AI services."), rows


@friendly
def aws_service(name):
    return catalogue.aws_service_detail(name)


@friendly
def read_chains():
    return clouds.credential_chains()


# --- Layout -------------------------------------------------------------------------------------

with gr.Blocks(title=LAB.title) as demo:
    header(LAB, extra=_stand_ins())
    missing_banner(LAB)

    with gr.Tab("① Compare the clouds"):
        gr.Markdown("The order is this lab's ranking for ML work: **1. Azure, 2. AWS, 3. Google Cloud**. "
                    "Each has a different sweet spot; the tables below are for comparing, not for deciding alone.")
        with gr.Row(elem_id=f"{SLUG}-facts"):
            for fact in clouds.FACTS:
                with gr.Column():
                    gr.Markdown(clouds.facts_markdown(fact.name))
        gr.Markdown(f"### GPU instances, on-demand (prices as of {clouds.PRICES_AS_OF})\n"
                    f"**{clouds.price_caption()}** {clouds.PRICE_NOTES}")
        gr.Dataframe(clouds.price_rows(), headers=["cloud", "instance", "GPUs", "GPU", "USD / hour", "USD / GPU-hour"],
                     label=clouds.price_caption(), show_label=True, interactive=False, max_height=720,
                     elem_id=f"{SLUG}-prices")
        gr.Markdown("**Sources:** " + " · ".join(f"{c}: {s}" for c, s in clouds.PRICE_SOURCES.items()))
        chains_btn = gr.Button("Read each SDK's default credential chain", elem_id=f"{SLUG}-chains-btn")
        chains = gr.Markdown(elem_id=f"{SLUG}-chains")

    with gr.Tab("② Same task, three SDKs"):
        gr.Markdown("Create a bucket/container, upload, list, download, make a **time-limited signed URL** and fetch "
                    "it with plain HTTP (and a forged copy, to see who checks signatures), then delete everything — "
                    "with each cloud's own SDK. **Run it**: the defaults are the shipped example.")
        with gr.Row():
            chosen = gr.CheckboxGroup(CLOUD_CHOICES, value=CLOUD_CHOICES, label="Clouds", elem_id=f"{SLUG}-clouds")
            base_name = gr.Textbox("ml-lab-demo", label="Bucket / container name", elem_id=f"{SLUG}-bucket")
            unique = gr.Checkbox(True, label="Add a random suffix (many people can run at once)"
                                 + (" — always on, on a shared server" if SHARED else ""), interactive=not SHARED)
        with gr.Row():
            object_name = gr.Textbox("hello/model-card.md", label="Object name")
            text = gr.Textbox(EXAMPLE_PAYLOAD, label="Content to upload (or a file below)", lines=3)
            file = gr.File(label=f"…or upload a file (≤ {runner.MAX_UPLOAD_BYTES // 1_000_000} MB)", type="filepath")
        with gr.Accordion("Credentials for real clouds (optional; never shown, logged or stored)", open=False):
            gr.Markdown("Leave empty to use the local emulators. A provider's fields select its real cloud; the others "
                        "keep using their emulators. The endpoint overrides point an SDK at another compatible service."
                        + (" On this shared server an endpoint must be a public host and needs that provider's key "
                           "typed beside it." if SHARED else ""))
            with gr.Row():
                azure_conn = gr.Textbox(label="Azure Storage connection string", type="password")
            with gr.Row():
                aws_key = gr.Textbox(label="AWS access key id", type="password")
                aws_secret = gr.Textbox(label="AWS secret access key", type="password")
                aws_region = gr.Textbox("", label="AWS region", placeholder="us-east-1")
                aws_endpoint = gr.Textbox("", label="S3/SQS endpoint override (optional)", placeholder="https://…")
            with gr.Row():
                gcp_json = gr.Textbox(label="Google Cloud service-account key (JSON)", type="password")
                gcp_project = gr.Textbox("", label="Google Cloud project id")
                gcp_endpoint = gr.Textbox("", label="Cloud Storage endpoint override (optional)")
            use_env = gr.Checkbox(False, label="Use this server's environment (each SDK's default credential chain) "
                                               "for clouds with empty fields"
                                  + (" — not available on a shared server" if SHARED else ""),
                                  interactive=not SHARED, elem_id=f"{SLUG}-use-env")
        cred_inputs = [azure_conn, aws_key, aws_secret, aws_region, aws_endpoint, gcp_json, gcp_project, gcp_endpoint, use_env]
        run_btn = gr.Button("▶ Run the storage example on all three", variant="primary", elem_id=f"{SLUG}-run-storage")
        summary = gr.Markdown(elem_id=f"{SLUG}-storage-summary")
        table = gr.Dataframe(headers=STEP_HEADERS, interactive=False, wrap=True, elem_id=f"{SLUG}-storage-table")
        gr.Markdown("#### The code that just ran, side by side")
        with gr.Row():
            gr.Code(source_of(storage.azure_blob_demo), language="python", label="Azure · azure-storage-blob")
            gr.Code(source_of(storage.s3_demo), language="python", label="AWS · boto3")
            gr.Code(source_of(storage.gcs_demo), language="python", label="Google Cloud · google-cloud-storage")

        gr.Markdown("### Message queues\nSend jobs, receive them, delete each after processing (at-least-once "
                    "delivery), delete the queue.")
        with gr.Row():
            queue_name = gr.Textbox("ml-lab-jobs", label="Queue name")
            messages = gr.Textbox(EXAMPLE_MESSAGES, label="Messages, one per line", lines=3)
        queue_btn = gr.Button("▶ Run the queue example", elem_id=f"{SLUG}-run-queues")
        queue_summary = gr.Markdown(elem_id=f"{SLUG}-queue-summary")
        queue_table = gr.Dataframe(headers=STEP_HEADERS, interactive=False, wrap=True, elem_id=f"{SLUG}-queue-table")
        with gr.Row():
            gr.Code(source_of(queues.azure_queue_demo), language="python", label="Azure · azure-storage-queue")
            gr.Code(source_of(queues.sqs_demo), language="python", label="AWS · boto3 (SQS)")
            gr.Code(source_of(queues.pubsub_demo), language="python", label="Google Cloud · google-cloud-pubsub")

        gr.Markdown("### Emulators")
        status = gr.Dataframe(emulators.status_rows(), headers=STATUS_HEADERS, interactive=False, wrap=True,
                              elem_id=f"{SLUG}-status")
        with gr.Row():
            status_btn = gr.Button("Refresh status", size="sm")
            stop_btn = gr.Button("Stop the emulators", size="sm", elem_id=f"{SLUG}-stop", visible=not SHARED)
        stop_note = gr.Markdown()
        code_panel(runner.run_storage, runner.run_queues, runner._run, credentials.aws_target, credentials.scrub,
                   steps.StepLog, emulators.start, emulators.EmulatorPool, label="Show the code (runner, targets, emulators)")

    with gr.Tab("③ Naming rules"):
        gr.Markdown("Bucket, container and queue names follow different rules on each cloud (and the emulators are "
                    "more lenient than the real services). Type a name to see who accepts it.")
        with gr.Row():
            name_in = gr.Textbox("My_Bucket.2024", label="Name", elem_id=f"{SLUG}-name")
            name_btn = gr.Button("Check", elem_id=f"{SLUG}-check-name")
        name_verdict = gr.Markdown(elem_id=f"{SLUG}-name-verdict")
        name_table = gr.Dataframe(headers=["resource", "verdict", "rules broken"], interactive=False, wrap=True,
                                  elem_id=f"{SLUG}-name-table")
        name_examples = gr.Examples([["ml-lab-demo"], ["My_Bucket.2024"], ["google-models"], ["a--b"], ["192.168.1.10"],
                                     ["ab"]], inputs=[name_in], label="Examples (one click checks it)",
                                    api_name=f"{SLUG}_name_example_load", elem_id=f"{SLUG}-name-examples")
        code_panel(naming.s3_bucket_problems, naming.azure_container_problems, naming.gcs_bucket_problems,
                   naming.sqs_queue_problems, naming.object_name_problems)

    with gr.Tab("④ All Python libraries"):
        gr.Markdown("Every package on the package index associated with each cloud, from a dated snapshot built by "
                    "`labs/cloud_sdks/build_catalogue.py` (nothing is fetched at run time). *Publisher* and *status* "
                    "(GA / preview / deprecated / yanked) come from each package's own index metadata — author e-mail "
                    "domain, repository, Development Status classifier, version, yanked flags — and *why* names the "
                    "rule used per row; rows marked *not checked* still use name heuristics. *Installed here* is "
                    "checked live against this Python environment.")
        with gr.Row():
            lib_query = gr.Textbox("", label="Search name or purpose", placeholder="e.g. storage, ml, identity",
                                   elem_id=f"{SLUG}-lib-query")
            lib_cloud = gr.Dropdown(["All", *runner.CLOUDS], value="All", label="Cloud")
            lib_cat = gr.Dropdown(["All", *catalogue.categories()], value="All", label="Category")
        with gr.Row():
            lib_official = gr.Checkbox(True, label="Official (published by the provider) only")
            lib_installed = gr.Checkbox(False, label="Installed here only")
            lib_btn = gr.Button("Search", variant="primary", elem_id=f"{SLUG}-lib-search")
        lib_counts = gr.Markdown(_snapshot_counts() + " Click **Search** to list them.", elem_id=f"{SLUG}-lib-counts")
        lib_table = gr.Dataframe(headers=LIB_HEADERS, interactive=False, wrap=True, max_height=500,
                                 elem_id=f"{SLUG}-lib-table")
        gr.Markdown("### AWS service coverage, from the installed botocore")
        with gr.Row():
            svc_query = gr.Textbox("", label="Filter services", placeholder="e.g. sage, bedrock, s3")
            svc_btn = gr.Button("List services", elem_id=f"{SLUG}-aws-services")
        svc_note = gr.Markdown(elem_id=f"{SLUG}-aws-note")
        svc_table = gr.Dataframe(headers=["service (boto3.client name)", "ML / AI"], interactive=False, max_height=300)
        with gr.Row():
            svc_name = gr.Textbox("sagemaker", label="Service")
            svc_detail_btn = gr.Button("Describe")
        svc_detail = gr.Markdown()
        code_panel(catalogue.search, catalogue.aws_services, catalogue.aws_service_detail)

    # --- Events ---------------------------------------------------------------------------------
    chains_btn.click(read_chains, None, chains, api_name=f"{SLUG}_credential_chains")
    run_btn.click(run_storage, [chosen, base_name, unique, object_name, text, file, *cred_inputs],
                  [summary, table, status], api_name=f"{SLUG}_run_storage", **RUN)
    queue_btn.click(run_queues, [chosen, queue_name, unique, messages, *cred_inputs],
                    [queue_summary, queue_table, status], api_name=f"{SLUG}_run_queues", **RUN)
    status_btn.click(emulator_status, None, status, api_name=f"{SLUG}_status")
    stop_btn.click(stop_emulators, None, [stop_note, status], api_name=f"{SLUG}_stop", **RUN)
    name_btn.click(check_name, name_in, [name_verdict, name_table], api_name=f"{SLUG}_check_name")
    name_in.submit(check_name, name_in, [name_verdict, name_table], api_name=f"{SLUG}_check_name_enter",
                   api_visibility="undocumented")
    name_examples.load_input_event.then(check_name, name_in, [name_verdict, name_table], api_name=f"{SLUG}_name_example",
                                        api_visibility="undocumented")
    lib_inputs = [lib_query, lib_cloud, lib_cat, lib_official, lib_installed]
    lib_btn.click(search_libraries, lib_inputs, [lib_counts, lib_table], api_name=f"{SLUG}_search_libraries")
    lib_query.submit(search_libraries, lib_inputs, [lib_counts, lib_table], api_name=f"{SLUG}_search_enter",
                     api_visibility="undocumented")
    svc_btn.click(list_aws_services, svc_query, [svc_note, svc_table], api_name=f"{SLUG}_aws_services")
    svc_detail_btn.click(aws_service, svc_name, svc_detail, api_name=f"{SLUG}_aws_service")


if __name__ == "__main__":
    serve(demo)
