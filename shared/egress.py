"""Connections opened for a visitor reach public addresses only: the connected socket's peer is checked.

`serving.check_endpoint` resolves the host a visitor typed before a cloud SDK connects to it. The
SDK then resolves the name again itself, and a hostile DNS server can answer the second time with
a private or loopback address (DNS rebinding). The connection classes here ask each new socket,
once connected and before a byte is sent, which address it reached, and close it unless that
address is public (`serving.address_problem`). They plug into the HTTP stacks the suite uses for
a visitor's endpoints (urllib3 under the SDKs, urllib.request for plain fetches):

- `azure_transport()`: an azure-core transport (Azure Storage blobs and queues, Cosmos DB);
- `guard_botocore(client)`: a boto3/botocore client (S3, SQS);
- `mount_public_only(session)`: a requests session (google-cloud-storage's `_http`);
- `urllib_handlers()`: urllib.request (`serving.guarded_fetch`).

Each refuses proxies from the environment (they would hide the real peer) and follows no redirect
by itself. Third-party libraries are imported inside the functions.
"""

from __future__ import annotations

import functools
import socket
from typing import Any

from shared import serving


def refused_peer(sock: Any) -> str | None:
    """Why the peer of a connected socket may not be reached for a visitor, or None if it is public."""
    try:
        return serving.address_problem(sock.getpeername()[0])
    except (OSError, ValueError, IndexError):
        return "unknown"


@functools.lru_cache(maxsize=None)
def checked_connection(base: type) -> type:
    """A subclass of urllib3 connection class `base` that drops a connection to a non-public peer."""
    from urllib3.exceptions import NewConnectionError

    class PublicOnly(base):  # type: ignore[misc, valid-type]
        def _new_conn(self):  # noqa: ANN202 - urllib3's hook: returns the connected socket
            sock = super()._new_conn()
            problem = refused_peer(sock)
            if problem:
                sock.close()
                raise NewConnectionError(self, f"refused: the peer is a {problem} address")
            return sock

    PublicOnly.__name__ = PublicOnly.__qualname__ = f"PublicOnly{base.__name__}"
    return PublicOnly


@functools.lru_cache(maxsize=None)
def checked_pool(base: type) -> type:
    """A subclass of urllib3 pool class `base` whose connections are `checked_connection`s."""
    return type(f"PublicOnly{base.__name__}", (base,), {"ConnectionCls": checked_connection(base.ConnectionCls)})


def public_only_adapter() -> Any:
    """A requests adapter over checked pools, with no retries and no redirects of its own."""
    from requests.adapters import HTTPAdapter
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.util.retry import Retry

    class PublicOnlyAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": checked_pool(HTTPConnectionPool),
                                                       "https": checked_pool(HTTPSConnectionPool)}

    return PublicOnlyAdapter(max_retries=Retry(total=False, redirect=False, raise_on_status=False))


def mount_public_only(session: Any) -> Any:
    """Make a requests session connect to public peers only, and ignore the environment's proxies."""
    session.trust_env = False
    adapter = public_only_adapter()
    for prefix in ("https://", "http://"):
        session.mount(prefix, adapter)
    return session


@functools.lru_cache(maxsize=1)
def _azure_transport_class() -> type:
    from azure.core.pipeline.transport import RequestsTransport

    class PublicOnlyTransport(RequestsTransport):
        def _init_session(self, session: Any) -> None:
            super()._init_session(session)
            mount_public_only(session)

    return PublicOnlyTransport


def azure_transport(**kwargs: Any) -> Any:
    """An azure-core transport (pass it as `transport=`) that connects to public peers only.

    `kwargs` go to azure-core's `RequestsTransport`, e.g. `connection_timeout`, `read_timeout`.
    """
    return _azure_transport_class()(**kwargs)


def guard_botocore(client: Any) -> Any:
    """Make a boto3/botocore client's connections public-only (its proxies from the environment
    are dropped too); return the client.

    botocore builds its urllib3 pools from the pool classes of its HTTP session; the checked
    subclasses keep botocore's own connection classes (its `Expect: 100-continue` handling).

    Raises:
        RuntimeError: This botocore keeps its HTTP session elsewhere (refuse rather than go unchecked).
    """
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    classes = getattr(session, "_pool_classes_by_scheme", None)
    manager = getattr(session, "_manager", None)
    if not isinstance(classes, dict) or manager is None:
        raise RuntimeError("this botocore version keeps its connections elsewhere; the suite cannot check "
                           "their addresses, so a shared server refuses the call")
    checked = {scheme: checked_pool(pool) for scheme, pool in classes.items()}
    session._pool_classes_by_scheme = checked
    manager.pool_classes_by_scheme = checked
    session._proxy_config = type(session._proxy_config)(proxies={})
    session._proxy_managers = {}
    return client


def _public_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    """`socket.create_connection`, then the peer check (before TLS or a request byte is sent)."""
    sock = socket.create_connection(address, *args, **kwargs)
    problem = refused_peer(sock)
    if problem:
        sock.close()
        raise ConnectionRefusedError(f"refused: the peer is a {problem} address")
    return sock


def urllib_handlers() -> list[Any]:
    """Handlers for `urllib.request.build_opener`: HTTP and HTTPS to public peers only, no proxies."""
    import http.client
    import urllib.request

    class PublicOnlyHTTPConnection(http.client.HTTPConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = _public_connection

    class PublicOnlyHTTPSConnection(http.client.HTTPSConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = _public_connection

    class PublicOnlyHTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: Any) -> Any:
            return self.do_open(PublicOnlyHTTPConnection, req)

    class PublicOnlyHTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: Any) -> Any:
            return self.do_open(PublicOnlyHTTPSConnection, req, context=self._context)

    return [urllib.request.ProxyHandler({}), PublicOnlyHTTPHandler(), PublicOnlyHTTPSHandler()]
