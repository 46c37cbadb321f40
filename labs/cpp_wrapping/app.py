"""Lab 5 UI: C++/CUDA wrapping, a Cosmos-style NoSQL knowledge base, and huggingface_hub.

UI only: the logic lives in build.py, wrapping.py, cosmos_sql.py, knowledge.py, hub_tour.py,
local_hub.py, orgs.py and semantic.py beside this file.
"""

from __future__ import annotations

import json
import os
import shutil

import gradio as gr

from labs import get
from labs.cpp_wrapping import (bindings, build, cosmos_sql, cuda_torch, hub_tour, knowledge, local_hub, orgs, prebuild,
                                semantic, wrapping)
from shared import serving
from shared.ui import GPU, HEAVY, code_panel, friendly, header, missing_banner, serve

LAB = get("cpp_wrapping")
SLUG = LAB.slug
HUB_CHOICES = ["Local stand-in hub (127.0.0.1)", "huggingface.co (needs the network)"]
CROSS = "(cross-partition)"
# Queries on the SQLite stand-in run in a pool of their own: each is bounded (at most
# cosmos_sql.MAX_JOINS JOINs, knowledge.SHARED_QUERY_SECONDS enforced inside SQLite), and two at a
# time keep a flood of them from holding the light pool's workers and both cores, without waiting
# behind a minute-long compile in the heavy pool.
QUERIES = {"concurrency_limit": 2, "concurrency_id": f"{SLUG}-sqlite"}
# Calls to a Cosmos DB account wait on the network (short timeouts on a shared server): a pool of
# their own, so a slow endpoint cannot hold the light pool's workers either.
REMOTE = {"concurrency_limit": 2, "concurrency_id": f"{SLUG}-cosmos"}


def _stand_ins() -> str:
    """Say, up front, which real local stand-ins replace what this machine cannot have."""
    cxx = shutil.which(os.environ.get("CXX", "") or "g++") or shutil.which("c++")
    nvcc = shutil.which("nvcc")
    lines = [
        f"- **C++ compiler:** {'`' + cxx + '`' if cxx else 'not found: the C++ ways will say how to install one'}.",
        f"- **CUDA:** {'nvcc at `' + nvcc + '` compiles the kernel; it runs only if the CUDA runtime finds a GPU (the table says what it found)' if nvcc else 'nvcc not found: the CUDA way is skipped and says so'}. "
        + cuda_torch.quick_gpu_line(),
        "- **Azure Cosmos DB → SQLite** (in-process, JSON1 functions): the Cosmos emulator only exists as Docker/Windows. "
        "Each query is translated and both statements are shown; a real account runs through the `azure-cosmos` SDK when you give an endpoint and key.",
        "- **Hugging Face Hub → a local stand-in server on 127.0.0.1** (`local_hub.py`) unless you pick huggingface.co: the same `huggingface_hub` calls run against it.",
    ]
    if build.user_edits_allowed():
        lines.append(f"- ⚠️ **{build.ALLOW_EDITS_ENV} is set:** edited C++ is compiled and run on this server.")
    return "**Stand-ins on this machine**\n" + "\n".join(lines)


# --- Part 1: wrapping ------------------------------------------------------------------------

def _way_keys(labels: list[str]) -> list[str]:
    by_label = {v: k for k, v in wrapping.LABELS.items()}
    return [by_label[label] for label in labels or []]


def _compare(labels, a, n_small, n_large, compile_slow, src_ctypes, src_pybind, src_torch, src_cuda, src_nanobind,
             progress):
    sources = {"ctypes": src_ctypes, "pybind11": src_pybind, "torch": src_torch, "cuda": src_cuda,
               "nanobind": src_nanobind}
    ways = _way_keys(labels)
    steps = iter(range(1, 100))
    total = 2 * max(1, len(ways)) + 1

    def report(message: str) -> None:
        progress(min(next(steps) / total, 0.99), desc=message)

    result = wrapping.compare(ways, a=a, n_small=n_small, n_large=n_large,
                              compile_slow=compile_slow, progress=report, sources=sources)
    overhead, throughput = wrapping.chart_frames(result)
    logs = "\n".join(f"## {wrapping.LABELS[r.way]}\n{r.log}" for r in result.rows if r.log) or "(nothing was compiled)"
    table = wrapping.table(result)
    return wrapping.summary(result), table, overhead, throughput, logs


@friendly
def run_quick(labels, a, n_small, n_large, src_ctypes, src_pybind, src_torch, src_cuda, src_nanobind=None,
              progress=gr.Progress()):
    return _compare(labels, a, n_small, n_large, False, src_ctypes, src_pybind, src_torch, src_cuda, src_nanobind,
                    progress)


@friendly
def run_all(labels, a, n_small, n_large, src_ctypes, src_pybind, src_torch, src_cuda, src_nanobind=None,
            progress=gr.Progress()):
    return _compare(labels, a, n_small, n_large, True, src_ctypes, src_pybind, src_torch, src_cuda, src_nanobind,
                    progress)


@friendly
def run_bindings(a, n_small, n_large, progress=gr.Progress()):
    """pybind11 vs nanobind: both built with the same flags, measured in this run."""
    rows, python_ns = bindings.compare_bindings(a=a, n_small=n_small, n_large=n_large,
                                                progress=lambda m: progress(None, desc=m))
    return bindings.summary(rows, python_ns), bindings.table(rows)


@friendly
def run_cuda_torch(n, progress=gr.Progress()):
    """The load_inline CUDA kernel timed apart from its copies, or a plain line saying why it cannot run here."""
    wrapping.check_sizes(wrapping.SMALL_N, n)
    ok, message = cuda_torch.gpu_status()
    if not ok:
        return f"**Not run.** {message}", [], ""
    timing = cuda_torch.measure(n, progress=lambda m: progress(None, desc=m))
    return (f"{message} The kernel moved {3 * 8 * timing.n / 1e6:,.0f} MB in {timing.kernel_ms:.3f} ms; the copies "
            f"took {timing.h2d_ms + timing.d2h_ms:.2f} ms.", cuda_torch.table(timing), timing.log)


def prebuild_start():
    """First visit: compile pybind11 and the torch extension in the background (shipped sources only)."""
    prebuild.start()
    return prebuild.status_line()


def prebuild_status():
    return prebuild.status_line()


# --- Part 2: NoSQL ---------------------------------------------------------------------------

def _pk(value: str | None) -> str | None:
    return None if not value or value == CROSS else value


def _query_outputs(result: knowledge.QueryResult):
    notes = [f"**{len(result.rows)} result(s)** in {result.seconds * 1000:.1f} ms on SQLite "
             f"({'partition ' + repr(result.partition_key) if result.partition_key else 'cross-partition'})."]
    notes += [f"⚠️ {w}" for w in result.warnings]
    for w in result.warnings:
        gr.Warning(w)
    sql = result.sqlite_sql + "\n-- parameters: " + json.dumps(result.sqlite_params)
    return (result.rows, sql, knowledge.sdk_snippet(result.cosmos_query, result.parameters, result.partition_key),
            "\n\n".join(notes))


@friendly
def pick_example(label):
    for name, query, params in knowledge.EXAMPLES:
        if name == label:
            return query, json.dumps(params)
    raise ValueError(f"Unknown example {label!r}.")


@friendly
def run_query(query, params, partition):
    return _query_outputs(knowledge.run_query(query, params, partition_key=_pk(partition)))


@friendly
def pick_json_example(label):
    for name, spec in knowledge.JSON_EXAMPLES:
        if name == label:
            return json.dumps(spec, indent=2)
    raise ValueError(f"Unknown example {label!r}.")


@friendly
def run_json_query(spec, partition):
    query, params = knowledge.json_to_cosmos(spec)
    rows, sql, sdk, notes = _query_outputs(knowledge.run_query(query, params, partition_key=_pk(partition)))
    cosmos = query + "\n-- parameters: " + json.dumps(params)
    return cosmos, rows, sql, sdk, notes


@friendly
def cosmos_seed(endpoint, key, database, container):
    target = knowledge.resolve_target(endpoint, key, database, container)
    count = knowledge.cosmos_seed(target)
    return (f"Upserted {count} documents into {target.database}/{target.container} "
            f"(partition key {knowledge.PARTITION_KEY_PATH}).")


@friendly
def cosmos_run(endpoint, key, database, container, query, params, partition):
    rows = knowledge.cosmos_query(knowledge.resolve_target(endpoint, key, database, container), query, params,
                                  _pk(partition))
    return rows


@friendly
def semantic_search(question, k, folder, progress=gr.Progress()):
    progress(0, desc="Embedding the documents and the question (the first search loads the model)…")
    result = semantic.search(question, k, folder)
    note, statements = semantic.explain(result)
    return result.rows, statements, note


@friendly
def semantic_cosmos(endpoint, key, database, container, question, k, folder, progress=gr.Progress()):
    progress(0, desc="Embedding, upserting and querying Cosmos DB…")
    target = knowledge.resolve_target(endpoint, key, database, container)
    return semantic.cosmos_semantic_search(target, question, k, folder)


# --- Part 3: huggingface_hub -----------------------------------------------------------------

def _endpoint(choice: str) -> str:
    # The endpoint is never typed by a visitor: one of two choices (gradio refuses any other value),
    # the real Hub's address coming from the operator's own HF_ENDPOINT setting.
    if choice == HUB_CHOICES[1]:
        return os.environ.get("HF_ENDPOINT", hub_tour.REAL_HUB)
    if choice != HUB_CHOICES[0]:
        raise ValueError(f"Choose one of the hubs: {' or '.join(HUB_CHOICES)}.")
    return local_hub.shared_hub().endpoint


@friendly
def hub_search(choice, search, limit):
    return hub_tour.to_json(hub_tour.search_models(_endpoint(choice), search, int(limit)))


@friendly
def hub_inspect(choice, repo_id):
    return hub_tour.to_json(hub_tour.inspect_model(_endpoint(choice), repo_id))


@friendly
def hub_download(choice, repo_id, filename):
    return hub_tour.to_json(hub_tour.download_file(_endpoint(choice), repo_id, filename))


@friendly
def hub_snapshot(choice, repo_id):
    return hub_tour.to_json(hub_tour.download_snapshot(_endpoint(choice), repo_id))


@friendly
def hub_scan():
    return hub_tour.to_json(hub_tour.scan_cache())


@friendly
def hub_publish(choice, repo_id, token, private):
    result = hub_tour.publish(_endpoint(choice), token, repo_id, build.KERNEL_DIR, private=bool(private),
                              extra_file=("README.md", b"# SAXPY kernels\n\nPublished by the C++ wrapping lab.\n"))
    return hub_tour.to_json({"repo_url": result.repo_url, "commit_url": result.commit_url, "files": result.files})


@friendly
def hub_space(choice, repo_id):
    return hub_tour.to_json(hub_tour.space_status(_endpoint(choice), repo_id))


# --- Layout ----------------------------------------------------------------------------------

with gr.Blocks(title=LAB.title) as demo:
    header(LAB, extra=_stand_ins())
    missing_banner(LAB)

    with gr.Tab("① Wrap C++ & CUDA"):
        gr.Markdown(
            "One function, **SAXPY** (`out = a*x + y`), called seven ways. *Overhead* is the time of one call on a "
            "tiny array (the cost of crossing from Python into native code); *throughput* is elements per second "
            "on a large array (the loop itself). Every result is checked against NumPy.\n\n"
            "pybind11 (about 10 s), nanobind (about 15 s the first time) and the torch extension (about a minute on "
            "2 cores) are compiled **in the background** from the first visit, at low priority; the line under the "
            "buttons shows how far. **Run the example** waits for a build in flight and then runs all six CPU ways; **Compile & run all** builds whatever is "
            "missing. Notes on skipped ways are under the summary.")
        with gr.Row():
            ways = gr.CheckboxGroup(list(wrapping.LABELS.values()), value=list(wrapping.LABELS.values()),
                                    label="Techniques", elem_id=f"{SLUG}-ways")
        with gr.Row():
            a_in = gr.Number(wrapping.DEFAULT_A, label="a (the scalar)")
            small_in = gr.Number(wrapping.SMALL_N, label="Tiny size (overhead)", precision=0, minimum=1,
                                 maximum=wrapping.MAX_N)
            large_in = gr.Number(wrapping.LARGE_N, label="Large size (throughput)", precision=0, minimum=1,
                                 maximum=wrapping.MAX_N)
        with gr.Row():
            run_btn = gr.Button("▶ Run the example", variant="primary", elem_id=f"{SLUG}-run")
            all_btn = gr.Button("🔨 Compile & run all", elem_id=f"{SLUG}-compile")
        build_status = gr.Markdown(elem_id=f"{SLUG}-build-status")
        build_timer = gr.Timer(2.0)
        summary = gr.Markdown(elem_id=f"{SLUG}-summary")
        results = gr.Dataframe(headers=wrapping.TABLE_HEADERS, label="Results", interactive=False,
                               elem_id=f"{SLUG}-table", wrap=True)
        with gr.Row():
            overhead_plot = gr.BarPlot(x="technique", y="microseconds per call", title="Per-call overhead (lower is better)",
                                       x_label_angle=-20, sort="y")
            throughput_plot = gr.BarPlot(x="technique", y="million elements per second",
                                         title="Throughput (higher is better)", x_label_angle=-20, sort="-y")
        with gr.Accordion("Compile log", open=False):
            compile_log = gr.Code(language="shell", interactive=False, show_label=False)
        editable = build.user_edits_allowed()
        read_only = (" (read-only on a shared server)" if serving.is_shared() else
                     f" (read-only; set {build.ALLOW_EDITS_ENV}=1 to edit)")
        with gr.Accordion("The C++ and CUDA sources" + (" (editable: opt-in is on)" if editable else read_only),
                          open=False):
            with gr.Tab("ctypes"):
                src_ctypes = gr.Code(build.shipped_source("ctypes"), language="cpp", interactive=editable)
            with gr.Tab("pybind11"):
                src_pybind = gr.Code(build.shipped_source("pybind11"), language="cpp", interactive=editable)
            with gr.Tab("nanobind"):
                src_nanobind = gr.Code(build.shipped_source("nanobind"), language="cpp", interactive=editable)
            with gr.Tab("torch load_inline"):
                src_torch = gr.Code(build.shipped_source("torch"), language="cpp", interactive=editable)
            with gr.Tab("CUDA (nvcc + ctypes)"):
                src_cuda = gr.Code(build.shipped_source("cuda"), language="cpp", interactive=editable)
        code_panel(wrapping.compare, wrapping.prepare, wrapping.saxpy_python, wrapping.saxpy_numpy,
                   wrapping.saxpy_ctypes, wrapping.saxpy_pybind11, wrapping.saxpy_nanobind, wrapping.saxpy_torch,
                   wrapping.saxpy_cuda, build.build_ctypes, build.build_pybind11, build.build_nanobind_core,
                   build.build_nanobind, build.build_torch, build.build_cuda, wrapping.best_time)
        inputs = [ways, a_in, small_in, large_in, src_ctypes, src_pybind, src_torch, src_cuda, src_nanobind]
        outputs = [summary, results, overhead_plot, throughput_plot, compile_log]
        run_btn.click(run_quick, inputs, outputs, api_name=f"{SLUG}_run", **HEAVY)
        all_btn.click(run_all, inputs, outputs, api_name=f"{SLUG}_compile", **HEAVY)
        demo.load(prebuild_start, None, build_status, api_name=f"{SLUG}_prebuild")
        build_timer.tick(prebuild_status, None, build_status, api_name=f"{SLUG}_prebuild_status")

        with gr.Accordion("pybind11 vs nanobind: compile time, .so size, per-call cost", open=False):
            gr.Markdown(
                "Both modules are built with the same g++ and flags and export the same `saxpy` and a trivial "
                f"`add(i, j)`; `add(1, 2)` is called {bindings.TRIVIAL_CALLS:,} times per repeat to measure the "
                "binding's own cost. nanobind compiles its core library once (from the sources in its wheel) and "
                "links it into each module. Uses the sizes and `a` above.")
            bind_btn = gr.Button("⚖️ Compare pybind11 and nanobind", elem_id=f"{SLUG}-bindings")
            bind_summary = gr.Markdown(elem_id=f"{SLUG}-bindings-summary")
            bind_table = gr.Dataframe(headers=bindings.TABLE_HEADERS, interactive=False, wrap=True,
                                      elem_id=f"{SLUG}-bindings-table")
            code_panel(bindings.compare_bindings, bindings.per_call_ns, build.nanobind_flags)
            bind_btn.click(run_bindings, [a_in, small_in, large_in], [bind_summary, bind_table],
                           api_name=f"{SLUG}_bindings", **HEAVY)

        with gr.Accordion("CUDA via torch load_inline: the kernel timed apart from the copies", open=False):
            gr.Markdown(
                "`load_inline(cuda_sources=...)` compiles the kernel with nvcc through torch. The three GPU buffers "
                "are allocated once; CUDA events then time the host→device copies, the kernel alone and the "
                "device→host copy, each as its own column. (The *CUDA via nvcc + ctypes* row above times one "
                "call with allocation and copies included.)\n\n" + cuda_torch.quick_gpu_line())
            cuda_n = gr.Number(cuda_torch.N, label="Elements", precision=0, minimum=1, maximum=wrapping.MAX_N)
            cuda_btn = gr.Button("🟩 Compile & time on the GPU", elem_id=f"{SLUG}-cuda-torch")
            cuda_summary = gr.Markdown(elem_id=f"{SLUG}-cuda-torch-summary")
            cuda_table = gr.Dataframe(headers=cuda_torch.TABLE_HEADERS, interactive=False, wrap=True)
            cuda_log = gr.Code(language="shell", interactive=False, label="load_inline log")
            gr.Code(cuda_torch.SOURCE.read_text(), language="cpp", interactive=False,
                    label="kernels/saxpy_cuda_torch.cu (what load_inline compiles)")
            code_panel(cuda_torch.build_torch_cuda, cuda_torch.measure, cuda_torch.event_ms)
            cuda_btn.click(run_cuda_torch, [cuda_n], [cuda_summary, cuda_table, cuda_log],
                           api_name=f"{SLUG}_cuda_torch", **GPU)

    with gr.Tab("② NoSQL knowledge base"):
        gr.Markdown(
            "The suite's skills, papers and labs as JSON documents in one container partitioned by "
            f"`{knowledge.PARTITION_KEY_PATH}`. Queries are written in **Azure Cosmos DB's NoSQL SQL**, translated "
            "to **SQLite JSON SQL** and run on an in-process SQLite database (the stand-in). Both statements and the "
            "equivalent `azure-cosmos` SDK code are shown.")
        with gr.Row():
            example = gr.Dropdown([e[0] for e in knowledge.EXAMPLES], value=knowledge.EXAMPLES[0][0],
                                  label="Shipped queries", elem_id=f"{SLUG}-example")
            partition = gr.Dropdown([CROSS, *knowledge.PARTITIONS], value=CROSS, label="Partition key (query_items)")
        query = gr.Code(knowledge.EXAMPLES[0][1], language="sql", label="Cosmos DB NoSQL query", interactive=True,
                        elem_id=f"{SLUG}-query")
        params = gr.Textbox(json.dumps(knowledge.EXAMPLES[0][2]), label='Parameters ([{"name": "@x", "value": ...}])',
                            lines=1)
        query_btn = gr.Button("▶ Run query", variant="primary", elem_id=f"{SLUG}-run-query")
        notes = gr.Markdown()
        with gr.Row():
            rows_out = gr.JSON(label="Results (JSON)", elem_id=f"{SLUG}-rows")
            with gr.Column():
                sqlite_out = gr.Code(language="sql", label="The SQLite statement that ran", interactive=False)
                sdk_out = gr.Code(language="python", label="The same query with the azure-cosmos SDK", interactive=False)
        example.change(pick_example, example, [query, params], api_name=f"{SLUG}_example")
        query_btn.click(run_query, [query, params, partition], [rows_out, sqlite_out, sdk_out, notes],
                        api_name=f"{SLUG}_query", **QUERIES)

        with gr.Accordion("Query with a JSON document instead of SQL", open=False):
            gr.Markdown("A MongoDB-style filter (the form Cosmos DB for MongoDB accepts) becomes Cosmos SQL with "
                        f"parameters, then runs the same way. Operators: {', '.join(knowledge.JSON_OPERATORS)}, "
                        "$and, $or, $not; plus `fields`, `sort`, `limit`.")
            json_example = gr.Dropdown([e[0] for e in knowledge.JSON_EXAMPLES], value=knowledge.JSON_EXAMPLES[0][0],
                                       label="Shipped JSON queries")
            json_spec = gr.Code(json.dumps(knowledge.JSON_EXAMPLES[0][1], indent=2), language="json",
                                label="JSON query", interactive=True)
            json_btn = gr.Button("▶ Run JSON query")
            json_cosmos = gr.Code(language="sql", label="Cosmos SQL generated from it", interactive=False)
            json_example.change(pick_json_example, json_example, json_spec, api_name=f"{SLUG}_json_example")
            json_btn.click(run_json_query, [json_spec, partition], [json_cosmos, rows_out, sqlite_out, sdk_out, notes],
                           api_name=f"{SLUG}_json_query", **QUERIES)

        with gr.Accordion("Run on a real Cosmos DB account or emulator (azure-cosmos SDK)", open=False):
            gr.Markdown("With an account (or the emulator on a machine that has Docker), enter its endpoint and key, "
                        "seed the container, then run the query above through `query_items`. The key is used for the "
                        "call only: never shown, logged or stored. When the Endpoint box is empty, the server's own "
                        "`COSMOS_ENDPOINT` and `COSMOS_KEY` are used, as a pair (if the server sets them); a typed "
                        "endpoint always needs its own key. **On a shared server** a typed endpoint must be a public "
                        "account address (no local or private hosts), replies are summed up by their status code, and "
                        "the server's own account is used only if its operator offers it (`ML_LABS_OFFER=cosmos`): "
                        "read-only, with the operator's database and container.")
            with gr.Row():
                c_endpoint = gr.Textbox(label="Endpoint", placeholder="https://ACCOUNT.documents.azure.com:443/")
                c_key = gr.Textbox(label="Key", type="password")
                c_db = gr.Textbox("labs", label="Database")
                c_container = gr.Textbox("knowledge", label="Container")
            with gr.Row():
                seed_btn = gr.Button("Seed container (upsert_item)")
                cosmos_btn = gr.Button("Run the query on Cosmos DB (query_items)")
            cosmos_msg = gr.Markdown()
            cosmos_rows = gr.JSON(label="Items from Cosmos DB")
            seed_btn.click(cosmos_seed, [c_endpoint, c_key, c_db, c_container], cosmos_msg,
                           api_name=f"{SLUG}_cosmos_seed", **REMOTE)
            cosmos_btn.click(cosmos_run, [c_endpoint, c_key, c_db, c_container, query, params, partition], cosmos_rows,
                             api_name=f"{SLUG}_cosmos_query", **REMOTE)
        with gr.Accordion("Semantic search: MiniLM embeddings + VectorDistance", open=False):
            gr.Markdown(
                "Search by meaning, not by words. Each document's title, tags and headings become a 384-number "
                f"vector ({semantic.MODEL_LABEL}: mean pooling over tokens, then length 1), and the question is ranked "
                "against them with Cosmos DB's `VectorDistance` (cosine). It runs locally on the SQLite stand-in; with "
                "the account above, **Search on Cosmos DB** creates a vector-indexed container "
                f"(`{semantic.VECTOR_CONTAINER}`), upserts the documents with their embeddings and runs the same query.")
            with gr.Row():
                question = gr.Dropdown(list(semantic.EXAMPLE_QUESTIONS), value=semantic.EXAMPLE_QUESTIONS[0],
                                       allow_custom_value=True, label="Question (pick one or type your own)",
                                       scale=3, elem_id=f"{SLUG}-question")
                top_k = gr.Slider(1, semantic.MAX_K, value=5, step=1, label="How many results (TOP @k)")
                model_dir = gr.Textbox(label="Model folder (optional)", placeholder="empty: the bundled MiniLM",
                                       info="Any save_pretrained folder of a BERT-like encoder (on a shared server: "
                                            "only one that snapshot_download wrote in the huggingface_hub tab).")
            with gr.Row():
                semantic_btn = gr.Button("▶ Search by meaning", variant="primary", elem_id=f"{SLUG}-semantic")
                semantic_cosmos_btn = gr.Button("Search on Cosmos DB (vector index)")
            semantic_note = gr.Markdown()
            with gr.Row():
                semantic_rows = gr.JSON(label="Nearest documents", elem_id=f"{SLUG}-semantic-rows")
                semantic_sql = gr.Code(language="sql", label="The query, in Cosmos SQL and as it ran on SQLite",
                                       interactive=False)
            semantic_cosmos_rows = gr.JSON(label="Items from Cosmos DB")
            with gr.Accordion("The azure-cosmos code for vector search", open=False):
                gr.Code(semantic.sdk_snippet(), language="python", interactive=False)
            semantic_btn.click(semantic_search, [question, top_k, model_dir], [semantic_rows, semantic_sql, semantic_note],
                               api_name=f"{SLUG}_semantic_search", **HEAVY)
            semantic_cosmos_btn.click(semantic_cosmos, [c_endpoint, c_key, c_db, c_container, question, top_k, model_dir],
                                      semantic_cosmos_rows, api_name=f"{SLUG}_semantic_cosmos", **HEAVY)
        with gr.Accordion("The documents", open=False):
            gr.JSON(knowledge.load_documents())
        code_panel(semantic.search, semantic.embed, semantic.document_text, semantic.numpy_ranking,
                   semantic.cosmos_vector_container, knowledge.run_query, cosmos_sql.Translator.translate, cosmos_sql.Translator.func,
                   knowledge.json_to_cosmos, knowledge.open_store, knowledge.resolve_target, knowledge.cosmos_query)

    with gr.Tab("③ huggingface_hub"):
        gr.Markdown(
            "The `huggingface_hub` functions by family. Offline, pick the **local stand-in hub**: a small server on "
            "127.0.0.1 (`local_hub.py`) that speaks the part of the Hub's HTTP API these functions use, so the "
            "library's real code runs (requests, the cache with its blobs and symlinked snapshots, commits). "
            "Downloads go to the lab's own cache, not your `~/.cache/huggingface`.")
        hub_choice = gr.Radio(HUB_CHOICES, value=HUB_CHOICES[0], label="Endpoint")
        with gr.Tab("Search & inspect"):
            with gr.Row():
                h_search = gr.Textbox("tiny", label="list_models(search=...)")
                h_limit = gr.Slider(1, hub_tour.MAX_LIST, value=10, step=1, label="limit")
                h_search_btn = gr.Button("list_models")
            with gr.Row():
                h_repo = gr.Textbox("labs/tiny-saxpy", label="Repo id")
                h_info_btn = gr.Button("model_info + ModelCard")
            h_out1 = gr.Code(language="json", interactive=False, label="Result")
            h_search_btn.click(hub_search, [hub_choice, h_search, h_limit], h_out1, api_name=f"{SLUG}_hub_search")
            h_info_btn.click(hub_inspect, [hub_choice, h_repo], h_out1, api_name=f"{SLUG}_hub_inspect")
        with gr.Tab("Download & cache"):
            with gr.Row():
                h_repo2 = gr.Textbox("labs/tiny-saxpy", label="Repo id")
                h_file = gr.Textbox("config.json", label="Filename")
            with gr.Row():
                h_dl_btn = gr.Button("hf_hub_download")
                h_snap_btn = gr.Button("snapshot_download")
                h_scan_btn = gr.Button("scan_cache_dir")
            h_out2 = gr.Code(language="json", interactive=False, label="Result")
            h_dl_btn.click(hub_download, [hub_choice, h_repo2, h_file], h_out2, api_name=f"{SLUG}_hub_download")
            h_snap_btn.click(hub_snapshot, [hub_choice, h_repo2], h_out2, api_name=f"{SLUG}_hub_snapshot")
            h_scan_btn.click(hub_scan, None, h_out2, api_name=f"{SLUG}_hub_scan")
        with gr.Tab("Publish"):
            gr.Markdown(f"`create_repo` then `upload_folder` (the lab's kernels) and `upload_file` (a README). "
                        f"The local stand-in accepts the demo token `{local_hub.DEMO_TOKEN}` in the namespace "
                        f"`{local_hub.DEMO_USER}` (it guards nothing real). On huggingface.co use your own write token "
                        "and namespace. Tokens are used for the call only: never shown, logged or stored.")
            with gr.Row():
                h_new = gr.Textbox(f"{local_hub.DEMO_USER}/my-saxpy-kernels", label="Repo id to create")
                h_token = gr.Textbox(label="Token", type="password")
                h_private = gr.Checkbox(False, label="private")
            h_pub_btn = gr.Button("create_repo + upload_folder + upload_file")
            h_out3 = gr.Code(language="json", interactive=False, label="Result")
            h_pub_btn.click(hub_publish, [hub_choice, h_new, h_token, h_private], h_out3, api_name=f"{SLUG}_hub_publish")
        with gr.Tab("Spaces"):
            with gr.Row():
                h_space = gr.Textbox(f"{local_hub.DEMO_USER}/cpp-wrapping", label="Space id")
                h_space_btn = gr.Button("get_space_runtime + list_spaces")
            h_out4 = gr.Code(language="json", interactive=False, label="Result")
            h_space_btn.click(hub_space, [hub_choice, h_space], h_out4, api_name=f"{SLUG}_hub_space")
        code_panel(hub_tour.search_models, hub_tour.inspect_model, hub_tour.download_file, hub_tour.download_snapshot,
                   hub_tour.file_size, hub_tour.check_download_size, hub_tour.scan_cache, hub_tour.publish,
                   hub_tour.space_status, hub_tour.explain)

    with gr.Tab("④ Who needs what"):
        gr.Markdown(orgs.comparison_markdown())
        gr.Markdown("Licences and *wheels that distribute libraries but not code* are covered in Lab 1, "
                    "**Wheel packaging** (`wheel_packaging`).")


if __name__ == "__main__":
    prebuild.start()  # launched alone: start compiling before the first visit
    serve(demo)
