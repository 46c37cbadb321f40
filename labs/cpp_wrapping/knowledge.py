"""A knowledge base of JSON documents, queried the Azure Cosmos DB way.

Knowledge management by database: the suite's own skills, papers and labs are stored as JSON
documents (nested authors, tags, sections, links) in one container partitioned by `/kind`. The
same questions are asked three ways:

1. in Cosmos DB's NoSQL SQL dialect, translated by `cosmos_sql` to SQLite's JSON SQL and run on
   an embedded SQLite database — the local stand-in, because the Cosmos DB emulator only runs as a
   Docker image or on Windows;
2. as a JSON filter document (MongoDB style, which Cosmos DB for MongoDB accepts), turned into
   the same Cosmos SQL with parameters;
3. through the real `azure-cosmos` SDK (`query_items` with parameters and partition keys) when a
   Cosmos account or emulator endpoint and key are configured.

SQLite was chosen over TinyDB or mongomock because it is a real query engine with a SQL dialect
and JSON path functions (json_each for JOIN, ->/->> for paths), so a Cosmos query maps to one
statement you can read and run yourself; TinyDB and mongomock have no SQL at all.
"""

from __future__ import annotations

import binascii
import contextlib
import difflib
import functools
import json
import math
import os
import re
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from labs.cpp_wrapping import cosmos_sql
from shared import serving

DOCUMENTS_FILE = Path(__file__).with_name("knowledge_base.json")
PARTITION_KEY_PATH = "/kind"  # the container's partition key: one logical partition per kind
PARTITIONS = ("skill", "paper", "lab")
MAX_ROWS = 500  # results shown; the knowledge base is small, but a cross JOIN can multiply rows
MAX_RESULT_BYTES = 2 * 1024 * 1024  # JSON text of the rows shown, all together
MAX_QUERY_CHARS = 50_000  # query text; the shipped queries are a few hundred characters
MAX_PARAMETERS_CHARS = 200_000  # the parameters box (room for a few 384-number vectors)
# The longest text or blob SQLite may build while answering (a document is a few KB; nested
# REPLACE or CONCAT could otherwise grow a value to SQLite's own limit of 1 GB).
MAX_VALUE_BYTES = 1024 * 1024
# Time budget of one query on the SQLite stand-in, enforced inside SQLite by a progress handler
# that SQLite calls every PROGRESS_EVERY virtual-machine instructions.
LOCAL_QUERY_SECONDS, SHARED_QUERY_SECONDS = 30.0, 5.0
PROGRESS_EVERY = 1000
# Time budget of one query on a real Cosmos DB account (checked between the items it returns).
LOCAL_COSMOS_SECONDS, SHARED_COSMOS_SECONDS = 300.0, 30.0

# Shipped queries: (label, Cosmos SQL, parameters). Each runs on the local store in the tests.
EXAMPLES: list[tuple[str, str, list[dict[str, Any]]]] = [
    ("Papers since 2020, newest first",
     "SELECT c.title, c.year\nFROM c\nWHERE c.kind = 'paper' AND c.year >= 2020\nORDER BY c.year DESC", []),
    ("Tagged with a parameter (ARRAY_CONTAINS)",
     "SELECT c.id, c.kind, c.title\nFROM c\nWHERE ARRAY_CONTAINS(c.tags, @tag)\nORDER BY c.id",
     [{"name": "@tag", "value": "gpu"}]),
    ("JOIN inside a document: authors by affiliation",
     "SELECT c.title, a.name, a.affiliation\nFROM c\nJOIN a IN c.authors\nWHERE a.affiliation = @org\nORDER BY c.year",
     [{"name": "@org", "value": "Google"}]),
    ("Skills an organisation demands (nested JOIN + parameter)",
     "SELECT c.title, d.weight, d.why\nFROM c\nJOIN d IN c.demand\nWHERE d.org = @org\nORDER BY d.weight DESC",
     [{"name": "@org", "value": "NVIDIA"}]),
    ("TOP 3 longest labs",
     "SELECT TOP 3 c.title, c.minutes\nFROM c\nWHERE c.kind = 'lab'\nORDER BY c.minutes DESC", []),
    ("Aggregates over papers",
     "SELECT COUNT(1) AS papers, MIN(c.year) AS first, MAX(c.year) AS last, AVG(c.year) AS mean_year\n"
     "FROM c\nWHERE c.kind = 'paper'", []),
    ("GROUP BY partition",
     "SELECT c.kind, COUNT(1) AS documents\nFROM c\nGROUP BY c.kind", []),
    ("Full-text-ish: section headings mentioning CUDA",
     "SELECT c.title, s.heading, s.words\nFROM c\nJOIN s IN c.sections\nWHERE CONTAINS(s.heading, 'cuda', true)", []),
    ("SELECT VALUE: every distinct tag",
     "SELECT DISTINCT VALUE t\nFROM c\nJOIN t IN c.tags", []),
    ("Paging with OFFSET/LIMIT over documents that have links",
     "SELECT c.id, ARRAY_LENGTH(c.links) AS links\nFROM c\nWHERE IS_DEFINED(c.links)\nORDER BY c.id\nOFFSET 2 LIMIT 3", []),
]

JSON_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("Papers since 2020 (filter + sort + fields)",
     {"filter": {"kind": "paper", "year": {"$gte": 2020}}, "fields": ["title", "year"],
      "sort": [["year", "desc"]]}),
    ("GPU material that is not a paper ($contains, $ne)",
     {"filter": {"tags": {"$contains": "gpu"}, "kind": {"$ne": "paper"}}, "fields": ["id", "kind", "title"]}),
    ("Labs of at most 25 minutes, or beginner skills ($or)",
     {"filter": {"$or": [{"kind": "lab", "minutes": {"$lte": 25}}, {"level": "beginner"}]},
      "fields": ["id", "title"], "sort": [["id", "asc"]], "limit": 10}),
]


class QueryError(ValueError):
    """A query could not run; the message says what to change."""


class QueryTimeout(QueryError, serving.BudgetExceeded):
    """A query ran past its time budget and SQLite stopped it."""


@dataclass
class QueryResult:
    """Rows plus everything that explains them."""

    rows: list[Any]
    cosmos_query: str
    parameters: list[dict[str, Any]]
    sqlite_sql: str
    sqlite_params: dict[str, Any]
    seconds: float
    partition_key: str | None
    warnings: list[str] = field(default_factory=list)


def load_documents(path: Path = DOCUMENTS_FILE) -> list[dict[str, Any]]:
    """The shipped knowledge base: a list of JSON documents with `id` and `kind`."""
    return json.loads(path.read_text())


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def vector_distance(a: str | None, b: str | None) -> float | None:
    """SQLite function behind Cosmos's VectorDistance: cosine similarity of two JSON arrays."""
    if a is None or b is None:
        return None
    try:
        va, vb = json.loads(a), json.loads(b)
    except (TypeError, ValueError):
        return None  # not JSON arrays: Cosmos returns undefined
    if not isinstance(va, list) or not isinstance(vb, list) or len(va) != len(vb):
        return None  # Cosmos returns undefined for mismatched vectors
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in va + vb):
        return None  # only numbers make a vector
    return _cosine(va, vb)


def open_store(documents: list[dict[str, Any]] | None = None) -> sqlite3.Connection:
    """Create an in-memory SQLite container holding `documents` (the shipped ones by default).

    The table mirrors a Cosmos container: `id` is unique within a logical partition (`pk`, the
    value at the partition key path), and `body` is the whole JSON document.
    """
    docs = load_documents() if documents is None else documents
    con = sqlite3.connect(":memory:", check_same_thread=False)
    # No value a query builds may outgrow MAX_VALUE_BYTES (SQLite answers "string or blob too big").
    con.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max(MAX_VALUE_BYTES, *(len(json.dumps(d)) for d in docs), 1))
    con.execute(
        f"CREATE TABLE {cosmos_sql.TABLE} (id TEXT NOT NULL, pk TEXT NOT NULL, "
        "body TEXT NOT NULL CHECK (json_valid(body)), PRIMARY KEY (pk, id))")
    key = PARTITION_KEY_PATH.strip("/")
    con.executemany(f"INSERT INTO {cosmos_sql.TABLE} (id, pk, body) VALUES (?, ?, ?)",
                    [(d["id"], str(d.get(key, "")), json.dumps(d)) for d in docs])
    con.create_function("vector_distance", 2, vector_distance, deterministic=True)
    return con


def known_paths(documents: list[dict[str, Any]]) -> set[str]:
    """Every field path present in the documents, arrays written as [] (e.g. authors[].name)."""
    found: set[str] = set()

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                p = f"{prefix}.{k}" if prefix else k
                found.add(p)
                walk(v, p)
        elif isinstance(value, list):
            found.add(prefix + "[]")
            for item in value:
                walk(item, prefix + "[]")

    for doc in documents:
        walk(doc, "")
    return found


def field_warnings(paths: list[str], documents: list[dict[str, Any]]) -> list[str]:
    """Messages for paths that no document has (Cosmos would silently treat them as undefined)."""
    known = known_paths(documents)
    warnings = []
    for p in dict.fromkeys(paths):
        if p and p not in known:
            close = difflib.get_close_matches(p, sorted(known), n=3, cutoff=0.6)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            warnings.append(f"No document has the field '{p}': Cosmos DB treats it as undefined, so conditions "
                            f"on it match nothing and projections leave it out.{hint}")
    return warnings


def parse_parameters(text: str | list | None) -> list[dict[str, Any]]:
    """Read the parameters box: a JSON list like ``[{"name": "@tag", "value": "gpu"}]`` (or empty)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return []
    if isinstance(text, list):
        return text
    if len(text) > MAX_PARAMETERS_CHARS:
        raise QueryError(f"The parameters have {len(text):,} characters; keep them under {MAX_PARAMETERS_CHARS:,}.")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QueryError(f"The parameters are not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). "
                         'Write a list like [{"name": "@tag", "value": "gpu"}].') from exc
    if not isinstance(value, list):
        raise QueryError('The parameters must be a JSON list like [{"name": "@tag", "value": "gpu"}].')
    return value


def check_query_text(query: str | None) -> None:
    """Refuse a query text longer than `MAX_QUERY_CHARS` (parsing is linear, but no need for more)."""
    if query and len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"The query has {len(query):,} characters; keep it under {MAX_QUERY_CHARS:,}.")


def query_budget() -> serving.Deadline:
    """The time budget of one query on the SQLite stand-in: 5 s on a shared server, 30 s locally."""
    seconds = serving.request_budget(local=LOCAL_QUERY_SECONDS, shared=SHARED_QUERY_SECONDS)
    return serving.Deadline(seconds, what="the query")


def _fetch_rows(cursor: sqlite3.Cursor, warnings: list[str]) -> list[Any]:
    """At most `MAX_ROWS` rows and `MAX_RESULT_BYTES` of JSON, decoded; a warning says when cut."""
    rows, size = [], 0
    for (text,) in cursor:
        if len(rows) == MAX_ROWS:
            warnings.append(f"Only the first {MAX_ROWS} rows are shown. Add TOP or a WHERE clause.")
            break
        size += len(text or "")
        if size > MAX_RESULT_BYTES:
            warnings.append(f"Only the first {len(rows)} rows are shown: the results pass "
                            f"{MAX_RESULT_BYTES // 2**20} MB. Select fewer fields, or add TOP or a WHERE clause.")
            break
        rows.append(json.loads(text) if text is not None else None)
    return rows


def run_query(query: str, parameters: list[dict[str, Any]] | str | None = None, *,
              partition_key: str | None = None, documents: list[dict[str, Any]] | None = None) -> QueryResult:
    """Run a Cosmos NoSQL query on the local SQLite stand-in.

    Args:
        query: Cosmos SQL, e.g. ``SELECT c.title FROM c WHERE ARRAY_CONTAINS(c.tags, @tag)``.
        parameters: Cosmos-style parameters (list of {"name", "value"}) or their JSON text.
        partition_key: Scope to one logical partition (like `query_items(partition_key=...)`);
            None runs cross-partition.
        documents: Documents to load instead of the shipped knowledge base.

    The query runs under a time budget (`query_budget`) that SQLite itself enforces: a progress
    handler called every `PROGRESS_EVERY` instructions stops the statement once it is spent.

    Raises:
        QueryError: For syntax errors (with position), unsupported constructs, too many JOINs,
            bad parameters, or an error SQLite reports for the translated statement.
        QueryTimeout: The query ran past its time budget (a `BudgetExceeded` too).
    """
    check_query_text(query)
    params = parse_parameters(parameters)
    docs = load_documents() if documents is None else documents
    if partition_key is not None and partition_key not in {str(d.get("kind")) for d in docs}:
        raise QueryError(f"No partition has the key {partition_key!r}. Partitions: {', '.join(PARTITIONS)} "
                         "(or leave it empty for a cross-partition query).")
    try:
        translation = cosmos_sql.translate(query, partition_key)
        bound = cosmos_sql.bind_params(translation, params)
    except cosmos_sql.CosmosSqlError as exc:
        raise QueryError(str(exc)) from exc
    con = open_store(docs)
    deadline = query_budget()
    # SQLite calls this every PROGRESS_EVERY instructions; a true answer interrupts the statement.
    con.set_progress_handler(deadline.expired, PROGRESS_EVERY)
    start = time.perf_counter()
    cut: list[str] = []
    try:
        rows = _fetch_rows(con.execute(translation.sql, bound), cut)
    except sqlite3.Error as exc:
        if deadline.expired():
            raise QueryTimeout(f"The query ran past its {deadline.seconds:g} s time budget and was stopped. Use "
                               "fewer JOINs, a WHERE clause or TOP, so that it walks fewer rows.") from None
        if "too big" in str(exc):
            raise QueryError(f"A value in this query is above {MAX_VALUE_BYTES // 1024} KB, the limit here (a "
                             "parameter that long, or nested REPLACE or CONCAT that multiply a text's length). "
                             "Shorten it, or simplify the query.") from None
        raise QueryError(f"SQLite rejected the translated statement: {exc}. Check the types of the "
                         "values you compare, or simplify the query.") from exc
    except OverflowError as exc:  # a parameter too big for SQLite's 64-bit integers
        raise QueryError(f"A parameter value is too large for SQLite ({exc}). Use a number between "
                         f"{-2**63} and {2**63 - 1}, or a decimal such as 1e30.") from exc
    finally:
        con.close()
    seconds = time.perf_counter() - start
    warnings = field_warnings(translation.paths, docs) + cut
    return QueryResult(rows, query, params, translation.sql, bound, seconds, partition_key, warnings)


# --- JSON filter documents -------------------------------------------------------------------

_OPS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
JSON_OPERATORS = (*_OPS, "$in", "$nin", "$contains", "$exists", "$startswith")


def _field_path(name: str) -> str:
    """'authors.0.name' -> c.authors[0].name; refuses names that are not plain fields."""
    parts = []
    for part in name.split("."):
        if part.isdigit():
            parts.append(f"[{part}]")
        elif part.replace("_", "a").isalnum() and not part[0].isdigit():
            parts.append(f".{part}")
        else:
            raise QueryError(f"The field name {name!r} is not a plain dotted path (letters, digits, _ and .).")
    return "c" + "".join(parts)


def json_to_cosmos(spec: dict[str, Any] | str) -> tuple[str, list[dict[str, Any]]]:
    """Turn a JSON query document into Cosmos SQL with parameters.

    The document has ``filter`` (MongoDB-style: field equality, ``$eq $ne $gt $gte $lt $lte $in
    $nin $contains $exists $startswith``, and ``$and``/``$or``/``$not``), optional ``fields`` (a
    projection), ``sort`` (``[[field, "asc"|"desc"], ...]``) and ``limit``. Every value becomes a
    parameter, never text pasted into the query.

    Returns:
        (query, parameters) ready for `run_query` or the SDK's `query_items`.
    """
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise QueryError(f"The JSON query is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).") from exc
    if not isinstance(spec, dict):
        raise QueryError('The JSON query must be an object like {"filter": {"kind": "paper"}}.')
    unknown = set(spec) - {"filter", "fields", "sort", "limit"}
    if unknown:
        raise QueryError(f"Unknown keys {sorted(unknown)}; use filter, fields, sort and limit.")
    params: list[dict[str, Any]] = []

    def param(value: Any) -> str:
        name = f"@p{len(params) + 1}"
        params.append({"name": name, "value": value})
        return name

    def condition(filt: Any) -> str:
        if not isinstance(filt, dict):
            raise QueryError(f"A filter must be an object, got {json.dumps(filt)[:60]}.")
        parts = []
        for key, cond in filt.items():
            if key in ("$and", "$or"):
                if not isinstance(cond, list) or not cond:
                    raise QueryError(f"{key} takes a non-empty list of filters.")
                joiner = " AND " if key == "$and" else " OR "
                parts.append("(" + joiner.join(condition(c) for c in cond) + ")")
            elif key == "$not":
                parts.append(f"NOT ({condition(cond)})")
            elif key.startswith("$"):
                raise QueryError(f"Unknown operator {key!r} at the top of a filter; use $and, $or or $not.")
            else:
                path = _field_path(key)
                ops = cond if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond) else {"$eq": cond}
                for op, value in ops.items():
                    if op in _OPS:
                        parts.append(f"{path} {_OPS[op]} {param(value)}")
                    elif op in ("$in", "$nin"):
                        if not isinstance(value, list):
                            raise QueryError(f"{op} takes a list of values.")
                        parts.append(f"{'NOT ' if op == '$nin' else ''}ARRAY_CONTAINS({param(value)}, {path})")
                    elif op == "$contains":
                        parts.append(f"ARRAY_CONTAINS({path}, {param(value)})")
                    elif op == "$exists":
                        parts.append(f"{'' if value else 'NOT '}IS_DEFINED({path})")
                    elif op == "$startswith":
                        parts.append(f"STARTSWITH({path}, {param(value)})")
                    else:
                        raise QueryError(f"Unknown operator {op!r}; use one of {', '.join(JSON_OPERATORS)}.")
        return " AND ".join(parts) if parts else "true"

    fields = spec.get("fields")
    if fields is None:
        select = "*"
    elif isinstance(fields, list) and fields and all(isinstance(f, str) for f in fields):
        select = ", ".join(_field_path(f) for f in fields)
    else:
        raise QueryError('"fields" must be a non-empty list of field names, e.g. ["title", "year"].')
    limit = spec.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise QueryError('"limit" must be a whole number of at least 1.')
    query = f"SELECT {'TOP ' + str(limit) + ' ' if limit else ''}{select}\nFROM c"
    if spec.get("filter"):
        query += f"\nWHERE {condition(spec['filter'])}"
    if spec.get("sort"):
        sort = spec["sort"]
        if not isinstance(sort, list) or not all(isinstance(s, list) and len(s) == 2 for s in sort):
            raise QueryError('"sort" must look like [["year", "desc"], ["title", "asc"]].')
        keys = []
        for name, direction in sort:
            if str(direction).lower() not in ("asc", "desc"):
                raise QueryError(f"Sort direction must be asc or desc, got {direction!r}.")
            keys.append(f"{_field_path(name)} {str(direction).upper()}")
        query += "\nORDER BY " + ", ".join(keys)
    return query, params


# --- The real Azure Cosmos DB SDK --------------------------------------------------------------

def sdk_snippet(query: str, parameters: list[dict[str, Any]], partition_key: str | None,
                database: str = "labs", container: str = "knowledge") -> str:
    """The azure-cosmos code that runs the same query against a real account or the emulator."""
    scope = (f"partition_key={partition_key!r},  # one logical partition" if partition_key is not None
             else "enable_cross_partition_query=True,  # fan out over every partition")
    return f'''import os
from azure.cosmos import CosmosClient, PartitionKey

# Endpoint and key from the environment, never from the source code.
client = CosmosClient(os.environ["COSMOS_ENDPOINT"], credential=os.environ["COSMOS_KEY"])
database = client.create_database_if_not_exists("{database}")
container = database.create_container_if_not_exists(
    id="{container}", partition_key=PartitionKey(path="{PARTITION_KEY_PATH}"))

items = container.query_items(
    query="""{query}""",
    parameters={json.dumps(parameters)},
    {scope}
)
for item in items:
    print(item)
'''


@dataclass
class CosmosTarget:
    """Where a real Cosmos DB container lives. The key is kept only in memory and never shown.

    `lent` marks the server's own account lent to visitors on a shared server (`ML_LABS_OFFER=cosmos`):
    its database and container are the operator's, and it is read-only (queries only).
    """

    endpoint: str
    key: str
    database: str = "labs"
    container: str = "knowledge"
    lent: bool = False

    def __repr__(self) -> str:  # never let the key reach a log or an error message
        return (f"CosmosTarget(endpoint={self.endpoint!r}, key='***', database={self.database!r}, "
                f"container={self.container!r}, lent={self.lent!r})")


ENDPOINT_ENV, KEY_ENV = "COSMOS_ENDPOINT", "COSMOS_KEY"
# On a shared server that lends its account, the operator fixes the database and container.
DATABASE_ENV, CONTAINER_ENV = "COSMOS_DATABASE", "COSMOS_CONTAINER"
DEFAULT_DATABASE, DEFAULT_CONTAINER = "labs", "knowledge"
COSMOS_SERVICE = "cosmos"  # the name an operator puts in ML_LABS_OFFER to lend the account
# SDK options for a visitor's endpoint on a shared server: no endpoint discovery (the account's
# reply would name further hosts to connect to) and short timeouts. The SDK follows no redirects:
# azure-cosmos builds its pipeline without azure-core's RedirectPolicy, and the requests transport
# sends allow_redirects=False.
SHARED_CLIENT_OPTIONS = {"enable_endpoint_discovery": False, "connection_timeout": 5, "read_timeout": 20}
LENT_READ_ONLY = ("The server's Cosmos DB account is lent read-only on this shared server: queries only, no "
                  "seeding or creating containers. To write, enter the endpoint and key of your own account.")


def check_typed_endpoint(endpoint: str) -> str:
    """On a shared server, a visitor's Cosmos endpoint must be a public host and the account's address only.

    Raises:
        serving.RefusedInput: A loopback, private, link-local (metadata) or reserved host, or a URL
            with a path or query (a Cosmos endpoint is just https://ACCOUNT.documents.azure.com:443/).
    """
    endpoint = serving.check_endpoint(endpoint, what="Cosmos endpoint")
    if not serving.is_shared():
        return endpoint
    parts = urllib.parse.urlsplit(endpoint)
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise serving.RefusedInput("The Cosmos endpoint must be the account's address only, like "
                                   "https://ACCOUNT.documents.azure.com:443/, with no path or query.")
    return endpoint


@functools.lru_cache(maxsize=1)
def _public_only_transport_class() -> type:
    """An azure-core requests transport that checks every connection's peer address once connected.

    `check_endpoint` resolves the visitor's host before the SDK does; a host whose DNS answers
    differently the second time (DNS rebinding) could still lead the SDK to a private address. This
    transport asks the connected socket itself and drops it (before a byte is sent) if its peer is
    not public. Proxies from the environment are not used: they would hide the real peer.
    """
    from azure.core.pipeline.transport import RequestsTransport
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import NewConnectionError
    from urllib3.util.retry import Retry

    def checked(base: type) -> type:
        class Checked(base):  # type: ignore[misc, valid-type]
            def _new_conn(self):  # noqa: ANN202 - urllib3's hook: the connected socket
                sock = super()._new_conn()
                try:
                    problem = serving.address_problem(sock.getpeername()[0])
                except (OSError, ValueError, IndexError):
                    problem = "unknown"
                if problem:
                    sock.close()
                    raise NewConnectionError(self, f"refused: the peer is a {problem} address")
                return sock
        return Checked

    http_pool = type("PublicHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": checked(HTTPConnection)})
    https_pool = type("PublicHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": checked(HTTPSConnection)})

    class PublicOnlyAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    class PublicOnlyTransport(RequestsTransport):
        def _init_session(self, session: Any) -> None:
            super()._init_session(session)
            session.trust_env = False
            adapter = PublicOnlyAdapter(max_retries=Retry(total=False, redirect=False, raise_on_status=False))
            for prefix in self._protocols:
                session.mount(prefix, adapter)

    return PublicOnlyTransport


def resolve_target(endpoint: str | None, key: str | None, database: str | None = None,
                   container: str | None = None, environ: Mapping[str, str] | None = None) -> CosmosTarget:
    """Decide which account a request goes to, from the boxes and the server's environment.

    A typed endpoint is used only with a typed key. The server's `COSMOS_ENDPOINT`/`COSMOS_KEY`
    are used only together, and only when the Endpoint box is empty, so a visitor can never send
    the server's key to an endpoint of their choosing.

    On a shared server (`shared.serving`), a typed endpoint must reach a public host
    (`check_typed_endpoint`), and the server's account is used only if the operator offers it
    (`ML_LABS_OFFER=cosmos`): then with the operator's database and container (`COSMOS_DATABASE`,
    `COSMOS_CONTAINER`, default labs/knowledge) and read-only (`CosmosTarget.lent`).

    Raises:
        QueryError: When no endpoint is configured, or an endpoint and key do not come as a pair.
        serving.RefusedInput: On a shared server, for a refused endpoint, an account not offered,
            or database/container names other than the operator's.
    """
    env = os.environ if environ is None else environ
    endpoint, key = (endpoint or "").strip(), (key or "").strip()
    database, container = (database or "").strip(), (container or "").strip()
    if endpoint:
        if not key:
            raise QueryError("Enter the key of the endpoint you typed. (The server's COSMOS_KEY is used only with "
                             "its own COSMOS_ENDPOINT, when the Endpoint box is empty.)")
        if serving.is_shared():
            check_typed_endpoint(endpoint)
        return CosmosTarget(endpoint, key, database or DEFAULT_DATABASE, container or DEFAULT_CONTAINER)
    if key:
        raise QueryError("You entered a key but no endpoint: enter the endpoint the key belongs to.")
    shared = serving.is_shared()
    if shared and not serving.offered(COSMOS_SERVICE):
        raise serving.RefusedInput("This shared server does not lend its own Cosmos DB account: enter the endpoint "
                                   "and key of your own account, or use the local SQLite stand-in above (it needs "
                                   "none).")
    endpoint = serving.operator_env(ENDPOINT_ENV, "", service=COSMOS_SERVICE, environ=env).strip()
    key = serving.operator_env(KEY_ENV, "", service=COSMOS_SERVICE, environ=env).strip()
    if not endpoint:
        raise QueryError("No Cosmos DB endpoint is configured. Enter an endpoint and key (or set COSMOS_ENDPOINT "
                         "and COSMOS_KEY on the server); the local SQLite stand-in above needs none.")
    if not key:
        raise QueryError("COSMOS_ENDPOINT is set on the server but COSMOS_KEY is not: set both, or enter an "
                         "endpoint and key in the boxes.")
    if not shared:
        return CosmosTarget(endpoint, key, database or DEFAULT_DATABASE, container or DEFAULT_CONTAINER)
    fixed_db = serving.operator_env(DATABASE_ENV, "", service=COSMOS_SERVICE, environ=env).strip() or DEFAULT_DATABASE
    fixed_c = serving.operator_env(CONTAINER_ENV, "", service=COSMOS_SERVICE, environ=env).strip() or DEFAULT_CONTAINER
    if (database and database != fixed_db) or (container and container != fixed_c):
        raise serving.RefusedInput(f"The server's Cosmos DB account is lent with a fixed database and container: "
                                   f"put {fixed_db!r} and {fixed_c!r} in those boxes (or leave them empty).")
    return CosmosTarget(endpoint, key, fixed_db, fixed_c, lent=True)


def _service_error(exc: Exception, what: str, hint: str = "") -> Exception:
    """A message for an azure-core error; on a shared server never the remote reply's text."""
    from azure.cosmos import exceptions

    status = getattr(exc, "status_code", None)
    if serving.is_shared():  # the reply may come from any host a visitor named: status code only
        if status is None:
            return QueryError(f"The Cosmos endpoint could not be reached ({type(exc).__name__}) during {what}. "
                              f"Check the endpoint, or try again later.{hint}")
        odd = ", which is not a Cosmos DB reply" if 200 <= int(status) < 300 else ""
        return QueryError(f"The Cosmos endpoint answered {what} with HTTP {status}{odd}. Its reply is not shown on "
                          f"this shared server: check the endpoint, key, database and container.{hint}")
    if isinstance(exc, exceptions.CosmosHttpResponseError):
        message = " ".join((exc.message or str(exc)).split())[:400]  # the service's text, on one line
        return QueryError(f"Cosmos DB refused {what} (HTTP {exc.status_code}): {message}{hint}")
    return exc  # the operator's own machine: the SDK's own error, with its details


@contextlib.contextmanager
def sdk_errors(what: str, hint: str = "") -> Iterator[None]:
    """Turn the SDK's errors (azure-core's `AzureError`) raised inside into `QueryError`s (`_service_error`)."""
    try:
        yield
    except Exception as exc:
        try:  # imported here: a missing SDK is reported by `cosmos_client`'s own check
            from azure.core.exceptions import AzureError
        except ImportError:
            AzureError = ()  # noqa: N806 - nothing is an azure-core error then
        if not isinstance(exc, AzureError):
            raise
        error = _service_error(exc, what, hint)
        if error is exc:
            raise
        raise error from (None if serving.is_shared() else exc)


def cosmos_client(target: CosmosTarget) -> tuple[Any, Any]:
    """The `azure.cosmos` module and a `CosmosClient` for `target`, after checking endpoint and key.

    On a shared server a visitor's endpoint is checked again (`check_typed_endpoint`), and the
    client gets `SHARED_CLIENT_OPTIONS` (no endpoint discovery, short timeouts) and a transport
    that refuses a connection whose peer is not a public address (`_public_only_transport_class`).

    Raises:
        QueryError: The endpoint is not a URL or the key is empty.
        serving.RefusedInput: On a shared server, an endpoint that is not a public account address.
        MissingDependency: azure-cosmos is not installed (the message says what to install).
    """
    from shared.optional import require

    cosmos = require("azure.cosmos", slug="cpp_wrapping", purpose="querying a real Cosmos DB account")
    if not target.endpoint.startswith(("https://", "http://")):
        raise QueryError("The Cosmos endpoint must be a URL like https://ACCOUNT.documents.azure.com:443/ "
                         "(or https://localhost:8081/ for the emulator).")
    if not target.key:
        raise QueryError("The Cosmos key is empty. Paste the account's primary key (it is never shown or stored).")
    options: dict[str, Any] = {}
    if serving.is_shared():
        options = {k: v for k, v in SHARED_CLIENT_OPTIONS.items() if k != "enable_endpoint_discovery" or not target.lent}
        if not target.lent:
            check_typed_endpoint(target.endpoint)
            options["transport"] = _public_only_transport_class()()
    try:
        with sdk_errors("the client's first request"):  # the client reads the account's description right away
            return cosmos, cosmos.CosmosClient(target.endpoint, credential=target.key, **options)
    except binascii.Error:  # the SDK decodes the key as base64 before its first request
        raise QueryError("The Cosmos key is not an account key: keys are base64 text (letters, digits, +, / "
                         "and = at the end). Copy the primary key from Keys in the portal, or the emulator's "
                         "well-known key.") from None


def cosmos_container(target: CosmosTarget, *, create: bool = False) -> Any:
    """Open the container with the azure-cosmos SDK (creating database and container if asked).

    Raises:
        serving.RefusedInput: `create` on the operator's lent, read-only account.
    """
    if create and target.lent:
        raise serving.RefusedInput(LENT_READ_ONLY)
    cosmos, client = cosmos_client(target)
    with sdk_errors("creating the container" if create else "opening the container"):
        if create:
            database = client.create_database_if_not_exists(target.database)
            return database.create_container_if_not_exists(
                id=target.container, partition_key=cosmos.PartitionKey(path=PARTITION_KEY_PATH))
        return client.get_database_client(target.database).get_container_client(target.container)


def cosmos_seed(target: CosmosTarget, documents: list[dict[str, Any]] | None = None) -> int:
    """Upsert the knowledge base into the real container; return how many documents were written.

    Raises:
        serving.RefusedInput: On the operator's lent, read-only account.
    """
    if target.lent:
        raise serving.RefusedInput(LENT_READ_ONLY)
    container = cosmos_container(target, create=True)
    docs = load_documents() if documents is None else documents
    with sdk_errors("the upsert"):
        for doc in docs:
            container.upsert_item(doc)
    return len(docs)


def cosmos_query(target: CosmosTarget, query: str, parameters: list[dict[str, Any]] | str | None = None,
                 partition_key: str | None = None) -> list[Any]:
    """Run a query on the real container through `query_items` and return at most `MAX_ROWS` items.

    On a shared server the query text is held to the stand-in's limits (length, `MAX_JOINS`), and
    the items are read under a time budget (`SHARED_COSMOS_SECONDS`).

    Raises:
        QueryError: With the service's own message (status code and text) when it refuses; on a
            shared server with the status code only.
    """
    params = parse_parameters(parameters)
    if serving.is_shared():
        check_query_text(query)
        joins = len(re.findall(r"\bJOIN\b", query or "", flags=re.IGNORECASE))
        if joins > cosmos_sql.MAX_JOINS:
            raise QueryError(f"This query has {joins} JOINs; at most {cosmos_sql.MAX_JOINS} are allowed on this "
                             "shared server. Remove a JOIN, or test an array with ARRAY_CONTAINS in WHERE instead.")
    container = cosmos_container(target)
    kwargs: dict[str, Any] = {"query": query, "parameters": params}
    if partition_key is not None:
        kwargs["partition_key"] = partition_key
    else:
        kwargs["enable_cross_partition_query"] = True
    deadline = serving.Deadline(serving.request_budget(local=LOCAL_COSMOS_SECONDS, shared=SHARED_COSMOS_SECONDS),
                                what="the Cosmos DB query")
    items: list[Any] = []
    with sdk_errors("the query"):
        for item in container.query_items(**kwargs):  # pages are fetched as the loop needs them
            items.append(item)
            if len(items) == MAX_ROWS:
                break
            deadline.check()
    return items
