"""A real Azure Cosmos DB account through the `azure-cosmos` SDK: where calls go, and their guards.

`resolve_target` decides where a call goes (a typed endpoint needs its own typed key; the server's
`COSMOS_ENDPOINT`/`COSMOS_KEY` are used only as a pair, only when the Endpoint box is empty, and on
a shared server only when the operator lends them with `ML_LABS_OFFER=cosmos`, read-only).
`cosmos_client`/`cosmos_container`/`cosmos_seed`/`cosmos_query` are the SDK calls (`upsert_item`,
`query_items`); on a shared server a typed endpoint must be a public host, the client runs without
endpoint discovery over a transport that checks each connection's real peer address, and errors
are summed up by their HTTP status. The local SQLite stand-in for the same queries is `knowledge.py`.
"""

from __future__ import annotations

import binascii
import contextlib
import os
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from labs.cpp_wrapping import cosmos_sql
from labs.cpp_wrapping.knowledge import (
    LOCAL_COSMOS_SECONDS, MAX_ROWS, PARTITION_KEY_PATH, SHARED_COSMOS_SECONDS, QueryError, check_query_text,
    load_documents, parse_parameters,
)
from shared import egress, serving


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
    that refuses a connection whose peer is not a public address (`shared.egress`), which also
    stops DNS rebinding.

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
            options["transport"] = egress.azure_transport()
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
