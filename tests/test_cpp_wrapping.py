"""Lab 5 (cpp_wrapping): the wrapping ways compiled for real, the Cosmos-style queries on SQLite,
the Cosmos SDK at its boundary, and the app end to end through gradio_client.

The torch load_inline build (~1 min the first time) is in test_cpp_wrapping_torch.py and the
huggingface_hub functions in test_cpp_wrapping_hub.py.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from labs.cpp_wrapping import build, cosmos_sql, knowledge, wrapping

HAS_CXX = any(shutil.which(c) for c in ("g++", "c++", "clang++"))
needs_cxx = pytest.mark.skipif(not HAS_CXX, reason="no C++ compiler (apt-get install g++)")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One compile cache for the module, so pybind11 (~10 s) is built once."""
    folder = tmp_path_factory.mktemp("cpp_cache")
    mp = pytest.MonkeyPatch()
    mp.setenv(build.CACHE_ENV, str(folder))
    mp.delenv(build.ALLOW_EDITS_ENV, raising=False)
    yield folder
    mp.undo()


# --- Wrapping ----------------------------------------------------------------------------------

def test_python_and_numpy_compute_the_same_doubles():
    x, y = wrapping.make_inputs(1000)
    expected = wrapping.saxpy_numpy(3.0, x, y)
    got = np.asarray(wrapping.saxpy_python(3.0, x.tolist(), y.tolist()))
    assert np.array_equal(got, expected)
    assert got[0] == 3.0 * x[0] + y[0]


@needs_cxx
def test_ctypes_builds_caches_and_computes(cache):
    first = build.build_ctypes()
    assert first.artefact.exists() and first.artefact.suffix == ".so"
    again = build.build_ctypes()
    assert again.cached and again.seconds == 0.0 and again.artefact == first.artefact
    x, y = wrapping.make_inputs(10_001)
    assert np.array_equal(wrapping.saxpy_ctypes(again.module, -1.5, x, y), -1.5 * x + y)
    # argtypes make ctypes refuse a wrong dtype instead of reading garbage.
    with pytest.raises(Exception):
        wrapping.saxpy_ctypes(again.module, 1.0, x.astype(np.float32), y)


@needs_cxx
def test_pybind11_module_computes_and_raises_value_error(cache):
    result = build.build_pybind11()
    assert result.module.saxpy.__doc__ and "a*x + y" in result.module.saxpy.__doc__
    x, y = wrapping.make_inputs(777)
    assert np.array_equal(result.module.saxpy(2.0, x, y), 2.0 * x + y)
    # forcecast converts lists; mismatched lengths become Python's ValueError.
    assert list(result.module.saxpy(2.0, [1.0, 2.0], [0.5, 0.5])) == [2.5, 4.5]
    with pytest.raises(ValueError, match="same length"):
        result.module.saxpy(1.0, x, y[:-1])
    assert build.is_built("pybind11")


@needs_cxx
def test_compare_checks_every_way_against_numpy(cache):
    build.build_pybind11()
    result = wrapping.compare(("python", "numpy", "ctypes", "pybind11"), a=0.5, n_small=8, n_large=50_000)
    for way in ("python", "numpy", "ctypes", "pybind11"):
        row = result.row(way)
        assert row.status == "ok", row.note
        assert row.max_abs_diff == 0.0
        assert row.overhead_us > 0 and row.throughput_meps > 0
    # Compiled loops beat the interpreter on a large array by a wide margin.
    assert result.row("ctypes").throughput_meps > 5 * result.row("python").throughput_meps
    table = wrapping.table(result)
    assert [r[0] for r in table] == ["Pure Python", "NumPy", "C++ via ctypes", "C++ via pybind11"]
    overhead, throughput = wrapping.chart_frames(result)
    assert len(overhead) == 4 and list(throughput.columns) == ["technique", "million elements per second"]
    assert "bit-for-bit identical" in wrapping.summary(result)


@needs_cxx
def test_quick_run_skips_slow_builds_that_are_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))
    result = wrapping.compare(("numpy", "torch"), n_small=4, n_large=1000, compile_slow=False)
    torch_row = result.row("torch")
    assert torch_row.status == "skipped" and "not compiled yet" in torch_row.note
    assert not any(tmp_path.glob("torch-*/*.so"))


def test_cuda_way_is_compiled_or_explains_why_not(cache):
    result = wrapping.compare(("cuda",), n_small=4, n_large=1000)
    row = result.row("cuda")
    if shutil.which("nvcc") is None:
        assert row.status == "skipped" and "nvcc" in row.note
    elif row.status == "skipped":  # compiled, but the CUDA runtime found no usable GPU
        assert "compiled with nvcc" in row.note and "CUDA runtime says" in row.note
    else:
        assert row.status == "ok" and row.max_abs_diff == 0.0


@pytest.mark.gpu
def test_cuda_kernel_runs_on_a_gpu(cache):
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not installed")
    result = wrapping.compare(("numpy", "cuda"), n_small=4, n_large=100_000)
    assert result.row("cuda").status == "ok" and result.row("cuda").max_abs_diff == 0.0


def test_edited_source_is_refused_without_opt_in(monkeypatch):
    monkeypatch.delenv(build.ALLOW_EDITS_ENV, raising=False)
    with pytest.raises(build.BuildError, match=build.ALLOW_EDITS_ENV):
        build.build_ctypes('extern "C" void saxpy() {}')
    # The shipped text (or an empty editor) is always fine.
    assert build.resolve_source("ctypes", "") == build.shipped_source("ctypes")


@needs_cxx
def test_compiler_error_is_shown_when_edits_are_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(build.ALLOW_EDITS_ENV, "1")
    with pytest.raises(build.CompileFailed) as info:
        build.build_ctypes('extern "C" void saxpy(long n) { return n + ; }')
    assert "error" in str(info.value)
    assert "source.cpp" in info.value.log and "$ " in info.value.log  # the command and the real output


def test_missing_compiler_says_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(build.CompilerMissing, match="apt-get install g\\+\\+"):
        build.find_compiler()
    with pytest.raises(build.CompilerMissing, match="nvcc"):
        monkeypatch.setenv("CUDA_HOME", "/nonexistent")
        build.find_compiler("cuda")


@pytest.mark.parametrize("small,large,message", [(0, 10, "at least 1"), (4, wrapping.MAX_N + 1, "above the limit")])
def test_sizes_are_checked(small, large, message):
    with pytest.raises(ValueError, match=message):
        wrapping.compare(("numpy",), n_small=small, n_large=large)


@pytest.mark.parametrize("kwargs,message", [
    ({"n_small": None}, "tiny size box is empty"),
    ({"n_large": None}, "large size box is empty"),
    ({"a": None}, "scalar a is empty"),
])
def test_empty_number_boxes_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        wrapping.compare(("numpy",), **{"n_small": 4, "n_large": 100, **kwargs})


def test_unknown_technique_is_refused():
    with pytest.raises(ValueError, match="Choose at least one technique"):
        wrapping.compare(("fortran",))


# --- NoSQL knowledge base ----------------------------------------------------------------------

EXPECTED = {
    "Papers since 2020, newest first": lambda rows: [r["year"] for r in rows] == [2022, 2022, 2021, 2020],
    "Tagged with a parameter (ARRAY_CONTAINS)": lambda rows: [r["id"] for r in rows] == [
        "cpp_wrapping", "cuda_benchmark", "paper-flashattention", "skill-cpp-cuda"],
    "JOIN inside a document: authors by affiliation": lambda rows: len(rows) == 4
        and {r["affiliation"] for r in rows} == {"Google"} and rows[0]["title"] == "Attention Is All You Need",
    "Skills an organisation demands (nested JOIN + parameter)": lambda rows: rows[0] == {
        "title": "C++ and CUDA kernels", "weight": 3, "why": "CUDA libraries, kernels and drivers are the product"}
        and len(rows) == 4,
    "TOP 3 longest labs": lambda rows: len(rows) == 3 and rows[0] == {"title": "C++/CUDA wrapping, NoSQL and the hub",
                                                                       "minutes": 35},
    "Aggregates over papers": lambda rows: rows[0]["papers"] == 7 and rows[0]["first"] == 2017
        and rows[0]["last"] == 2022 and abs(rows[0]["mean_year"] - 14138 / 7) < 1e-9,
    "GROUP BY partition": lambda rows: {r["kind"]: r["documents"] for r in rows} == {"lab": 6, "paper": 7, "skill": 5},
    "Full-text-ish: section headings mentioning CUDA": lambda rows: {r["heading"] for r in rows} == {
        "CUDA kernels and memory transfers", "IO-aware tiling in CUDA"},
    "SELECT VALUE: every distinct tag": lambda rows: len(rows) == len(set(rows)) == 25 and "gpu" in rows,
    "Paging with OFFSET/LIMIT over documents that have links": lambda rows: rows == [
        {"id": "dataset_distillation", "links": 1}, {"id": "docker_mlops", "links": 1},
        {"id": "paper-attention", "links": 1}],
}


def test_every_shipped_query_has_an_expectation():
    assert {label for label, _, _ in knowledge.EXAMPLES} == set(EXPECTED)


@pytest.mark.parametrize("label,query,params", knowledge.EXAMPLES, ids=[e[0][:30] for e in knowledge.EXAMPLES])
def test_shipped_queries_give_expected_results(label, query, params):
    result = knowledge.run_query(query, params)
    assert EXPECTED[label](result.rows), result.rows
    assert result.warnings == []
    assert "FROM items AS c" in result.sqlite_sql


def test_translation_maps_cosmos_constructs_to_sqlite():
    t = cosmos_sql.translate("SELECT TOP 2 c.title, t FROM c JOIN t IN c.tags WHERE ARRAY_CONTAINS(c.tags, 'gpu') "
                             "AND c.authors[0].name = @who ORDER BY c.title")
    assert "JOIN json_each(c.body, '$.tags') AS t" in t.sql
    assert "EXISTS (SELECT 1 FROM json_each(c.body, '$.tags') WHERE value = 'gpu')" in t.sql
    assert "(c.body ->> '$.authors[0].name') = :who" in t.sql
    assert t.sql.rstrip().endswith("LIMIT 2") and t.param_names == ["who"]


def test_partition_key_scopes_the_query():
    result = knowledge.run_query("SELECT VALUE c.kind FROM c", partition_key="paper")
    assert result.rows == ["paper"] * 7
    assert "c.pk = :partition_key" in result.sqlite_sql
    with pytest.raises(knowledge.QueryError, match="No partition"):
        knowledge.run_query("SELECT * FROM c", partition_key="videos")


def test_select_star_returns_whole_documents():
    rows = knowledge.run_query("SELECT * FROM c WHERE c.id = 'paper-lora'").rows
    assert rows == [d for d in knowledge.load_documents() if d["id"] == "paper-lora"]


@pytest.mark.parametrize("query,message", [
    ("SELECT c.title FORM c", "line 1, column 16"),
    ("SELECT c.title FROM c WHERE", "found the end of the query"),
    ("SELECT c.title\nFROM c\nWHERE c.year >> 3", "line 3"),
    ("SELECT * FROM c JOIN t IN c.tags", "single input set"),
    ("SELECT FOO(c.x) FROM c", "FOO"),
    ("SELECT d.title FROM c", "Unknown alias 'd'"),
    ("SELECT c.title FROM c WHERE c.kind = @kind", "@kind but no value"),
    ("", "empty"),
])
def test_bad_queries_get_clear_messages(query, message):
    with pytest.raises(knowledge.QueryError, match=message):
        knowledge.run_query(query)


def test_unknown_field_gives_a_warning_with_a_suggestion():
    result = knowledge.run_query("SELECT c.title FROM c WHERE c.yaer > 2000")
    assert result.rows == []
    assert any("'yaer'" in w and "year" in w for w in result.warnings)


def test_parameters_must_be_well_formed():
    with pytest.raises(knowledge.QueryError, match="not valid JSON"):
        knowledge.run_query("SELECT * FROM c", "[{")
    with pytest.raises(knowledge.QueryError, match="start with @"):
        knowledge.run_query("SELECT * FROM c", [{"name": "tag", "value": 1}])


def test_array_parameter_with_array_contains():
    rows = knowledge.run_query("SELECT VALUE c.id FROM c WHERE ARRAY_CONTAINS(@ids, c.id) ORDER BY c.id",
                               [{"name": "@ids", "value": ["paper-bert", "skill-react", "nope"]}]).rows
    assert rows == ["paper-bert", "skill-react"]


def test_vector_distance_orders_by_cosine_similarity():
    docs = [{"id": "a", "kind": "x", "v": [1.0, 0.0]}, {"id": "b", "kind": "x", "v": [0.6, 0.8]},
            {"id": "c", "kind": "x", "v": [0.0, 1.0]}]
    rows = knowledge.run_query("SELECT TOP 2 c.id, VectorDistance(c.v, @q) AS score FROM c "
                               "ORDER BY VectorDistance(c.v, @q)", [{"name": "@q", "value": [0.0, 1.0]}],
                               documents=docs).rows
    assert [r["id"] for r in rows] == ["c", "b"] and rows[0]["score"] == pytest.approx(1.0)


@pytest.mark.parametrize("label,spec", knowledge.JSON_EXAMPLES, ids=[e[0][:30] for e in knowledge.JSON_EXAMPLES])
def test_json_queries_become_parameterised_cosmos_sql(label, spec):
    query, params = knowledge.json_to_cosmos(spec)
    assert "@p1" in query and all(p["name"].startswith("@p") for p in params)
    rows = knowledge.run_query(query, params).rows
    assert rows, label


def test_json_query_results():
    q, p = knowledge.json_to_cosmos(knowledge.JSON_EXAMPLES[1][1])
    assert {r["id"] for r in knowledge.run_query(q, p).rows} == {"skill-cpp-cuda", "cuda_benchmark", "cpp_wrapping"}
    q, p = knowledge.json_to_cosmos(knowledge.JSON_EXAMPLES[2][1])
    assert [r["id"] for r in knowledge.run_query(q, p).rows] == ["cuda_benchmark", "skill-open-source", "wheel_packaging"]
    q, p = knowledge.json_to_cosmos({"filter": {"kind": {"$in": ["lab", "skill"]}, "links": {"$exists": False}}})
    assert {r["kind"] for r in knowledge.run_query(q, p).rows} == {"skill"}


@pytest.mark.parametrize("spec,message", [
    ({"filter": {"year": {"$near": 1}}}, "Unknown operator"),
    ({"where": {}}, "Unknown keys"),
    ('{"filter": ', "not valid JSON"),
    ({"fields": "title"}, "fields"),
    ({"filter": {"bad key!": 1}}, "plain dotted path"),
])
def test_bad_json_queries(spec, message):
    with pytest.raises(knowledge.QueryError, match=message):
        knowledge.json_to_cosmos(spec)


# --- The Cosmos SDK at its boundary ------------------------------------------------------------

class FakeContainer:
    def __init__(self):
        self.calls, self.upserts = [], []

    def query_items(self, **kwargs):
        self.calls.append(kwargs)
        return iter([{"id": "from-cosmos"}])

    def upsert_item(self, doc):
        self.upserts.append(doc)


class FakeClient:
    instances: list["FakeClient"] = []

    def __init__(self, url, credential):
        self.url, self.credential = url, credential
        self.container = FakeContainer()
        self.created: list[tuple] = []
        FakeClient.instances.append(self)

    def create_database_if_not_exists(self, name):
        self.created.append(("database", name))
        return self

    def create_container_if_not_exists(self, id, partition_key, **policies):
        self.created.append(("container", id, partition_key, policies))
        return self.container

    def get_database_client(self, name):
        return self

    def get_container_client(self, name):
        return self.container


@pytest.fixture
def fake_cosmos(monkeypatch):
    pytest.importorskip("azure.cosmos")
    import azure.cosmos

    FakeClient.instances = []
    monkeypatch.setattr(azure.cosmos, "CosmosClient", FakeClient)
    return FakeClient


def test_cosmos_query_uses_query_items_with_parameters(fake_cosmos):
    target = knowledge.CosmosTarget("https://acct.documents.azure.com:443/", "secret-key")
    params = [{"name": "@tag", "value": "gpu"}]
    rows = knowledge.cosmos_query(target, knowledge.EXAMPLES[1][1], params)
    call = fake_cosmos.instances[-1].container.calls[-1]
    assert rows == [{"id": "from-cosmos"}]
    assert call == {"query": knowledge.EXAMPLES[1][1], "parameters": params, "enable_cross_partition_query": True}
    knowledge.cosmos_query(target, "SELECT * FROM c", None, partition_key="paper")
    assert fake_cosmos.instances[-1].container.calls[-1]["partition_key"] == "paper"
    assert "secret-key" not in repr(target)


def test_cosmos_seed_creates_partitioned_container_and_upserts(fake_cosmos):
    count = knowledge.cosmos_seed(knowledge.CosmosTarget("https://localhost:8081/", "k"))
    client = fake_cosmos.instances[-1]
    assert count == len(knowledge.load_documents()) == len(client.container.upserts)
    kind, name, pk, _ = client.created[1]
    assert (kind, name) == ("container", "knowledge") and pk["paths"] == ["/kind"]


def test_cosmos_refusal_becomes_a_clear_message(fake_cosmos, monkeypatch):
    from azure.cosmos import exceptions

    def refuse(self, **kwargs):
        raise exceptions.CosmosHttpResponseError(status_code=400, message="Syntax error, incorrect syntax near 'FORM'.")

    monkeypatch.setattr(FakeContainer, "query_items", refuse)
    with pytest.raises(knowledge.QueryError, match="HTTP 400.*FORM"):
        knowledge.cosmos_query(knowledge.CosmosTarget("https://a/", "k"), "SELECT * FORM c")
    with pytest.raises(knowledge.QueryError, match="endpoint must be a URL"):
        knowledge.cosmos_query(knowledge.CosmosTarget("acct", "k"), "SELECT * FROM c")


SERVER_ENV = {"COSMOS_ENDPOINT": "https://owner.documents.azure.com:443/", "COSMOS_KEY": "owner-secret"}


def test_server_key_is_never_paired_with_a_typed_endpoint():
    with pytest.raises(knowledge.QueryError, match="Enter the key of the endpoint you typed"):
        knowledge.resolve_target("https://attacker.example/", "", environ=SERVER_ENV)
    typed = knowledge.resolve_target(" https://mine.example/ ", "my-key", "", None, environ=SERVER_ENV)
    assert (typed.endpoint, typed.key, typed.database, typed.container) == (
        "https://mine.example/", "my-key", "labs", "knowledge")


def test_server_pair_is_used_only_when_the_endpoint_box_is_empty():
    target = knowledge.resolve_target("", "", "db", "items", environ=SERVER_ENV)
    assert (target.endpoint, target.key, target.database, target.container) == (
        SERVER_ENV["COSMOS_ENDPOINT"], "owner-secret", "db", "items")
    with pytest.raises(knowledge.QueryError, match="key but no endpoint"):
        knowledge.resolve_target("", "visitor-key", environ=SERVER_ENV)
    with pytest.raises(knowledge.QueryError, match="No Cosmos DB endpoint"):
        knowledge.resolve_target("", "", environ={})
    with pytest.raises(knowledge.QueryError, match="COSMOS_KEY is not"):
        knowledge.resolve_target(None, None, environ={"COSMOS_ENDPOINT": SERVER_ENV["COSMOS_ENDPOINT"]})


def test_sdk_snippet_is_valid_python_with_the_query():
    code = knowledge.sdk_snippet("SELECT * FROM c WHERE c.kind = @k", [{"name": "@k", "value": "lab"}], "lab")
    compile(code, "snippet.py", "exec")
    assert "partition_key='lab'" in code and "os.environ[\"COSMOS_KEY\"]" in code


# --- The app, end to end -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def app_module():
    from labs.cpp_wrapping import app

    return app


def test_app_builds_with_prefixed_api_names(app_module):
    import gradio as gr

    assert isinstance(app_module.demo, gr.Blocks)
    names = [d.get("api_name") for d in app_module.demo.config["dependencies"]]
    assert names and all(n.startswith("cpp_wrapping_") for n in names)


@needs_cxx
def test_end_to_end_through_gradio_client(app_module, client_for, cache):
    from gradio_client.exceptions import AppError

    client = client_for(app_module.demo)
    labels = [wrapping.LABELS[w] for w in ("python", "numpy", "ctypes")]
    summary, table, *_ = client.predict(labels, 2.0, 8, 20_000, "", "", "", "", api_name="/cpp_wrapping_run")
    assert "3 techniques ran" in summary and "identical" in summary
    assert [row[1] for row in table["data"]] == ["ok", "ok", "ok"]

    rows, sql, sdk, notes = client.predict(knowledge.EXAMPLES[1][1], '[{"name": "@tag", "value": "gpu"}]',
                                           "(cross-partition)", api_name="/cpp_wrapping_query")
    assert len(rows) == 4 and "json_each" in sql and "query_items" in sdk

    with pytest.raises(AppError, match="line 1, column 16"):
        client.predict("SELECT c.title FORM c", "", "(cross-partition)", api_name="/cpp_wrapping_query")
    with pytest.raises(AppError, match="minimum value 1|at least 1"):  # gradio checks the Number bounds first
        client.predict(labels, 2.0, 0, 100, "", "", "", "", api_name="/cpp_wrapping_run")
    with pytest.raises(AppError, match="No Cosmos DB endpoint"):
        client.predict("", "", "labs", "knowledge", api_name="/cpp_wrapping_cosmos_seed")
    with pytest.raises(AppError, match="large size box is empty"):
        client.predict(labels, 2.0, 8, None, "", "", "", "", api_name="/cpp_wrapping_run")


def test_edited_source_through_the_api_is_refused(app_module, client_for, cache, monkeypatch):
    """A visitor posting their own C++ to the endpoint gets the opt-in message; nothing is compiled."""
    monkeypatch.delenv(build.ALLOW_EDITS_ENV, raising=False)
    client = client_for(app_module.demo)
    edited = build.shipped_source("ctypes") + '\nextern "C" int visitor() { return 42; }\n'
    labels = [wrapping.LABELS[w] for w in ("numpy", "ctypes")]
    summary, table, _, _, log = client.predict(labels, 2.0, 8, 1000, edited, "", "", "",
                                               api_name="/cpp_wrapping_run")
    assert build.ALLOW_EDITS_ENV in summary and "switched off" in summary
    assert {row[0]: row[1] for row in table["data"]}[wrapping.LABELS["ctypes"]] == "failed"
    assert log == "(nothing was compiled)"
    assert not any("visitor()" in p.read_text(errors="ignore") for p in cache.rglob("*.cpp"))


@pytest.mark.parametrize("query, params, message", [
    ("SELECT * FROM c WHERE c.year > @y", [{"name": "@y", "value": 2**70}], "too large for SQLite"),
    ("SELECT * FROM c WHERE " + "(" * 1500 + "1" + ")" * 1500, [], "nested too deeply"),
    ("SELECT * FROM c WHERE " + " OR ".join(["c.year = 1"] * 3000), [], "nested too deeply"),
])
def test_extreme_queries_get_clear_messages(query, params, message):
    with pytest.raises(knowledge.QueryError, match=message):
        knowledge.run_query(query, params)


def test_partition_key_cannot_be_overridden_by_a_parameter():
    with pytest.raises(knowledge.QueryError, match="reserved for the partition key"):
        knowledge.run_query("SELECT VALUE c.kind FROM c", [{"name": "@partition_key", "value": "lab"}],
                            partition_key="paper")


def test_vector_distance_of_non_vectors_is_undefined():
    # Undefined is left out, as Cosmos does: no value per document, and no property in a projection.
    assert knowledge.run_query("SELECT VALUE VectorDistance(c.tags, c.tags) FROM c WHERE c.kind = 'lab'").rows == []
    rows = knowledge.run_query("SELECT c.id, VectorDistance(c.tags, c.tags) AS d FROM c WHERE c.kind = 'lab'").rows
    assert rows and all(set(r) == {"id"} for r in rows)
    assert knowledge.vector_distance("[1,", "[1, 2]") is None
    assert knowledge.vector_distance('[1, "x"]', "[1, 2]") is None
    assert knowledge.vector_distance("[1, 0]", "[1, 0]") == pytest.approx(1.0)


def test_a_key_that_is_not_base64_gets_a_clear_message():
    target = knowledge.CosmosTarget("https://localhost:8081/", "not a key!")
    with pytest.raises(knowledge.QueryError, match="not an account key"):
        knowledge.cosmos_client(target)
