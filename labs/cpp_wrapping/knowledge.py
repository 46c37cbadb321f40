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
import difflib
import json
import math
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from labs.cpp_wrapping import cosmos_sql

DOCUMENTS_FILE = Path(__file__).with_name("knowledge_base.json")
PARTITION_KEY_PATH = "/kind"  # the container's partition key: one logical partition per kind
PARTITIONS = ("skill", "paper", "lab")
MAX_ROWS = 500  # results shown; the knowledge base is small, but a cross JOIN can multiply rows

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
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QueryError(f"The parameters are not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}). "
                         'Write a list like [{"name": "@tag", "value": "gpu"}].') from exc
    if not isinstance(value, list):
        raise QueryError('The parameters must be a JSON list like [{"name": "@tag", "value": "gpu"}].')
    return value


def run_query(query: str, parameters: list[dict[str, Any]] | str | None = None, *,
              partition_key: str | None = None, documents: list[dict[str, Any]] | None = None) -> QueryResult:
    """Run a Cosmos NoSQL query on the local SQLite stand-in.

    Args:
        query: Cosmos SQL, e.g. ``SELECT c.title FROM c WHERE ARRAY_CONTAINS(c.tags, @tag)``.
        parameters: Cosmos-style parameters (list of {"name", "value"}) or their JSON text.
        partition_key: Scope to one logical partition (like `query_items(partition_key=...)`);
            None runs cross-partition.
        documents: Documents to load instead of the shipped knowledge base.

    Raises:
        QueryError: For syntax errors (with position), unsupported constructs, bad parameters, or
            an error SQLite reports for the translated statement.
    """
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
    start = time.perf_counter()
    try:
        raw = con.execute(translation.sql, bound).fetchmany(MAX_ROWS + 1)
    except sqlite3.Error as exc:
        raise QueryError(f"SQLite rejected the translated statement: {exc}. Check the types of the "
                         "values you compare, or simplify the query.") from exc
    except OverflowError as exc:  # a parameter too big for SQLite's 64-bit integers
        raise QueryError(f"A parameter value is too large for SQLite ({exc}). Use a number between "
                         f"{-2**63} and {2**63 - 1}, or a decimal such as 1e30.") from exc
    finally:
        con.close()
    seconds = time.perf_counter() - start
    rows = [json.loads(r[0]) if r[0] is not None else None for r in raw[:MAX_ROWS]]
    warnings = field_warnings(translation.paths, docs)
    if len(raw) > MAX_ROWS:
        warnings.append(f"Only the first {MAX_ROWS} rows are shown. Add TOP or a WHERE clause.")
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
    """Where a real Cosmos DB container lives. The key is kept only in memory and never shown."""

    endpoint: str
    key: str
    database: str = "labs"
    container: str = "knowledge"

    def __repr__(self) -> str:  # never let the key reach a log or an error message
        return f"CosmosTarget(endpoint={self.endpoint!r}, key='***', database={self.database!r}, container={self.container!r})"


ENDPOINT_ENV, KEY_ENV = "COSMOS_ENDPOINT", "COSMOS_KEY"


def resolve_target(endpoint: str | None, key: str | None, database: str | None = None,
                   container: str | None = None, environ: Mapping[str, str] | None = None) -> CosmosTarget:
    """Decide which account a request goes to, from the boxes and the server's environment.

    A typed endpoint is used only with a typed key. The server's `COSMOS_ENDPOINT`/`COSMOS_KEY`
    are used only together, and only when the Endpoint box is empty, so a visitor can never send
    the server's key to an endpoint of their choosing.

    Raises:
        QueryError: When no endpoint is configured, or an endpoint and key do not come as a pair.
    """
    env = os.environ if environ is None else environ
    endpoint, key = (endpoint or "").strip(), (key or "").strip()
    if endpoint:
        if not key:
            raise QueryError("Enter the key of the endpoint you typed. (The server's COSMOS_KEY is used only with "
                             "its own COSMOS_ENDPOINT, when the Endpoint box is empty.)")
    else:
        if key:
            raise QueryError("You entered a key but no endpoint: enter the endpoint the key belongs to.")
        endpoint, key = env.get(ENDPOINT_ENV, "").strip(), env.get(KEY_ENV, "").strip()
        if not endpoint:
            raise QueryError("No Cosmos DB endpoint is configured. Enter an endpoint and key (or set COSMOS_ENDPOINT "
                             "and COSMOS_KEY on the server); the local SQLite stand-in above needs none.")
        if not key:
            raise QueryError("COSMOS_ENDPOINT is set on the server but COSMOS_KEY is not: set both, or enter an "
                             "endpoint and key in the boxes.")
    return CosmosTarget(endpoint, key, (database or "").strip() or "labs", (container or "").strip() or "knowledge")


def cosmos_client(target: CosmosTarget) -> tuple[Any, Any]:
    """The `azure.cosmos` module and a `CosmosClient` for `target`, after checking endpoint and key.

    Raises:
        QueryError: The endpoint is not a URL or the key is empty.
        MissingDependency: azure-cosmos is not installed (the message says what to install).
    """
    from shared.optional import require

    cosmos = require("azure.cosmos", slug="cpp_wrapping", purpose="querying a real Cosmos DB account")
    if not target.endpoint.startswith(("https://", "http://")):
        raise QueryError("The Cosmos endpoint must be a URL like https://ACCOUNT.documents.azure.com:443/ "
                         "(or https://localhost:8081/ for the emulator).")
    if not target.key:
        raise QueryError("The Cosmos key is empty. Paste the account's primary key (it is never shown or stored).")
    try:
        return cosmos, cosmos.CosmosClient(target.endpoint, credential=target.key)
    except binascii.Error:  # the SDK decodes the key as base64 before its first request
        raise QueryError("The Cosmos key is not an account key: keys are base64 text (letters, digits, +, / "
                         "and = at the end). Copy the primary key from Keys in the portal, or the emulator's "
                         "well-known key.") from None


def cosmos_container(target: CosmosTarget, *, create: bool = False) -> Any:
    """Open the container with the azure-cosmos SDK (creating database and container if asked)."""
    cosmos, client = cosmos_client(target)
    if create:
        database = client.create_database_if_not_exists(target.database)
        return database.create_container_if_not_exists(
            id=target.container, partition_key=cosmos.PartitionKey(path=PARTITION_KEY_PATH))
    return client.get_database_client(target.database).get_container_client(target.container)


def cosmos_seed(target: CosmosTarget, documents: list[dict[str, Any]] | None = None) -> int:
    """Upsert the knowledge base into the real container; return how many documents were written."""
    container = cosmos_container(target, create=True)
    docs = load_documents() if documents is None else documents
    for doc in docs:
        container.upsert_item(doc)
    return len(docs)


def cosmos_query(target: CosmosTarget, query: str, parameters: list[dict[str, Any]] | str | None = None,
                 partition_key: str | None = None) -> list[Any]:
    """Run a query on the real container through `query_items` and return the items.

    Raises:
        QueryError: With the service's own message (status code and text) when it refuses.
    """
    params = parse_parameters(parameters)
    container = cosmos_container(target)
    from azure.cosmos import exceptions

    kwargs: dict[str, Any] = {"query": query, "parameters": params}
    if partition_key is not None:
        kwargs["partition_key"] = partition_key
    else:
        kwargs["enable_cross_partition_query"] = True
    try:
        return list(container.query_items(**kwargs))[:MAX_ROWS]
    except exceptions.CosmosHttpResponseError as exc:
        message = " ".join((exc.message or str(exc)).split())[:400]  # the service's text, on one line
        raise QueryError(f"Cosmos DB refused the query (HTTP {exc.status_code}): {message}") from exc
