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

import difflib
import json
import math
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def _fetch_rows(cursor: sqlite3.Cursor, warnings: list[str], is_value: bool = False) -> list[Any]:
    """At most `MAX_ROWS` rows and `MAX_RESULT_BYTES` of JSON, decoded; a warning says when cut.

    Undefined values are removed as Cosmos does (`cosmos_sql.strip_undefined`): a projected property
    the document lacks is left out of its row, and a SELECT VALUE of undefined gives no row.
    """
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
        keep, row = cosmos_sql.strip_undefined(json.loads(text) if text is not None else None, is_value=is_value)
        if keep:
            rows.append(row)
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
        rows = _fetch_rows(con.execute(translation.sql, bound), cut, translation.value)
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


# The real-account half (SDK calls and their guards) lives in cosmos_account.py; its names stay
# reachable as knowledge.<name> for callers of this module.
_ACCOUNT_NAMES = frozenset(('CONTAINER_ENV', 'COSMOS_SERVICE', 'CosmosTarget', 'DATABASE_ENV', 'DEFAULT_CONTAINER', 'DEFAULT_DATABASE', 'ENDPOINT_ENV', 'KEY_ENV', 'LENT_READ_ONLY', 'SHARED_CLIENT_OPTIONS', 'check_typed_endpoint', 'cosmos_client', 'cosmos_container', 'cosmos_query', 'cosmos_seed', 'resolve_target', 'sdk_errors'))


def __getattr__(name: str) -> Any:
    if name in _ACCOUNT_NAMES:
        from labs.cpp_wrapping import cosmos_account

        return getattr(cosmos_account, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
