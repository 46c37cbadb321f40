"""Shared mode: what changes when the suite is served to people who are not its operator.

On a laptop at 127.0.0.1 the person clicking is the person who started the server, so the labs
may use that person's environment (cloud keys, `HF_TOKEN`, a Cosmos account), read folders on the
machine and run long benchmarks. Served to others (a Hugging Face Space, a non-loopback address,
a `--share` link) every visitor input is hostile, and the suite enters *shared mode*:

- the server's environment credentials are never used for a visitor's request (`operator_env`),
  unless the operator deliberately offers a service (`offered`);
- endpoints a visitor types may not reach loopback, private, link-local or metadata addresses
  (`check_endpoint`, `guarded_fetch`);
- server paths are not a visitor input (`check_visitor_path`);
- every request runs under a time budget (`Deadline`, `request_budget`) and memory caps.

The mode is decided by `is_shared()`: `ML_LABS_SHARED=1`/`0` forces it on or off; otherwise it is
on when `SPACE_ID` is set (a Hugging Face Space) or when `serve()` was asked to bind a
non-loopback address or make a share link (`mark_served`). No gradio import here.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterable, Mapping

SHARED_ENV = "ML_LABS_SHARED"  # "1" forces shared mode on, "0" forces it off
OFFER_ENV = "ML_LABS_OFFER"  # comma-separated services the operator offers to visitors, e.g. "cosmos"

# Time budgets per request, in seconds. Local use keeps generous budgets (a teacher may run a
# long benchmark on purpose); shared use keeps one visitor from holding a worker for minutes.
LOCAL_REQUEST_SECONDS = 600.0
SHARED_REQUEST_SECONDS = 60.0
# Remote replies read by the suite itself (a hub probe, a visitor's endpoint) are capped in size.
MAX_REMOTE_BYTES = 2 * 1024 * 1024
RESOLVE_TIMEOUT_S = 3.0

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
_served_to_others = False


class RefusedInput(ValueError):
    """A visitor's input was refused in shared mode; the message says what and why, in one line."""


class BudgetExceeded(ValueError):
    """A request ran out of its time or memory budget; the message says which and what to do."""


# --- The mode -----------------------------------------------------------------------------------

def is_loopback_host(host: str | None) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, 'localhost')."""
    name = (host or "127.0.0.1").strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def mark_served(host: str | None, *, share: bool = False) -> bool:
    """Record how the server is about to be served; return whether that makes it shared.

    Called by `shared.ui.serve()` before `launch()`: a share link or a non-loopback bind address
    means people other than the operator can reach it.
    """
    global _served_to_others
    _served_to_others = bool(share) or not is_loopback_host(host)
    return is_shared()


def is_shared() -> bool:
    """Whether visitors are untrusted: forced by `ML_LABS_SHARED`, else Space, public bind or share."""
    forced = os.environ.get(SHARED_ENV, "").strip().lower()
    if forced in _TRUE:
        return True
    if forced in _FALSE:
        return False
    return bool(os.environ.get("SPACE_ID")) or _served_to_others


def mode_line() -> str:
    """One Markdown line for a lab's header saying which mode the server is in."""
    if is_shared():
        return ("🔒 **Shared mode**: this server is open to others, so it uses only what you type (never "
                "its own keys or folders) and every request has a time budget.")
    return "🏠 **Local mode**: served on 127.0.0.1, so the lab may use this machine's own keys and folders."


def offered(service: str) -> bool:
    """Whether the operator deliberately offers `service` (e.g. "cosmos") to visitors in shared mode."""
    names = {s.strip().lower() for s in os.environ.get(OFFER_ENV, "").split(",")}
    return service.lower() in names


def operator_env(name: str, default: str = "", *, service: str | None = None,
                 environ: Mapping[str, str] | None = None) -> str:
    """Read a server environment variable for a request: never in shared mode, unless offered.

    Args:
        name: The variable (e.g. ``"HF_TOKEN"``).
        default: What a visitor's request sees instead in shared mode (and when it is unset).
        service: The service the variable belongs to; with ``ML_LABS_OFFER`` naming it, the
            operator has chosen to lend it to visitors, so it is read in shared mode too.
        environ: The environment to read (default ``os.environ``), for tests.
    """
    env = os.environ if environ is None else environ
    if is_shared() and not (service and offered(service)):
        return default
    return env.get(name, default)


# --- Endpoints a visitor types --------------------------------------------------------------------

def _resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(RESOLVE_TIMEOUT_S)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    finally:
        socket.setdefaulttimeout(previous)
    return sorted({info[4][0] for info in infos})


def address_problem(address: str) -> str | None:
    """Why an IP address may not be reached by a visitor's request, or None if it is public."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for test, label in ((ip.is_loopback, "loopback"), (ip.is_link_local, "link-local (cloud metadata)"),
                        (ip.is_private, "private"), (ip.is_multicast, "multicast"),
                        (ip.is_unspecified, "unspecified"), (ip.is_reserved, "reserved")):
        if test:
            return label
    if not ip.is_global:
        return "not publicly routable"
    return None


def check_endpoint(url: str | None, *, what: str = "endpoint", schemes: Iterable[str] = ("https", "http"),
                   shared: bool | None = None) -> str:
    """Check a URL a visitor typed before the server connects to it; return it stripped.

    In shared mode the host is resolved and every address it resolves to must be public: no
    loopback, private, link-local (cloud metadata at 169.254.169.254), multicast or reserved
    address. In local mode only the form is checked (the operator may use a local emulator).

    Raises:
        RefusedInput: Not a URL of an allowed scheme, a host that does not resolve, or (shared
            mode) a host that reaches a non-public address. The message names the box and why.
    """
    text = (url or "").strip()
    allowed = tuple(schemes)
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RefusedInput(f"The {what} {text[:80]!r} is not a valid URL.") from None
    if parts.scheme not in allowed or not parts.hostname:
        raise RefusedInput(f"The {what} must be a URL starting with {' or '.join(s + '://' for s in allowed)} "
                           f"and a host name, not {text[:80]!r}.")
    if parts.username or parts.password:
        raise RefusedInput(f"The {what} must not carry a user name or password in the URL; use the key box.")
    if not (is_shared() if shared is None else shared):
        return text
    try:
        addresses = _resolve(parts.hostname, port)
    except (OSError, UnicodeError):
        raise RefusedInput(f"The {what}'s host {parts.hostname!r} could not be resolved. Check the spelling.") from None
    for address in addresses:
        problem = address_problem(address)
        if problem:
            raise RefusedInput(f"The {what}'s host {parts.hostname!r} resolves to a {problem} address, which this "
                               "shared server does not connect to for visitors. Use a public endpoint, or run "
                               "the lab on your own machine to reach local services.")
    return text


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only after checking its target like the first URL."""

    def __init__(self, what: str, shared: bool):
        self.what, self.shared = what, shared

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_endpoint(newurl, what=f"{self.what} (redirect)", shared=self.shared)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def guarded_fetch(url: str, *, what: str = "endpoint", method: str = "GET", data: bytes | None = None,
                  headers: Mapping[str, str] | None = None, timeout: float = 10.0,
                  max_bytes: int = MAX_REMOTE_BYTES, shared: bool | None = None) -> tuple[int, bytes]:
    """Make one HTTP request to a visitor-named URL: checked host, redirects and (shared) peer, capped body.

    Returns:
        The status code and at most `max_bytes` of the body. An HTTP error status is returned,
        not raised; the caller decides what (if anything) of the body to show.

    Raises:
        RefusedInput: The URL or a redirect target is refused (see `check_endpoint`).
        OSError: The connection failed or timed out.
    """
    is_on = is_shared() if shared is None else shared
    check_endpoint(url, what=what, shared=is_on)
    handlers: list[Any] = [_CheckedRedirects(what, is_on)]
    if is_on:  # the connected peer is checked too: the name may resolve differently now (DNS rebinding)
        from shared import egress

        handlers += egress.urllib_handlers()
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with opener.open(request, timeout=timeout) as reply:
            return reply.status, reply.read(max_bytes)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(max_bytes)


# --- Paths a visitor types ----------------------------------------------------------------------

def is_within(path: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]]) -> bool:
    """True if `path`, with links resolved, lies inside one of `roots`."""
    real = Path(os.path.realpath(path))
    return any(real == Path(os.path.realpath(r)) or real.is_relative_to(os.path.realpath(r)) for r in roots)


def check_visitor_path(text: str, *, roots: Iterable[str | os.PathLike[str]], what: str = "folder",
                       instead: str = "type a hub id or upload the files", shared: bool | None = None) -> str:
    """Allow a server path typed by a visitor only inside `roots` (in shared mode).

    The refusal is the same whether or not the path exists, so a visitor learns nothing about
    the server's files. In local mode the path is returned unchanged.

    Raises:
        RefusedInput: In shared mode, for a path outside `roots`.
    """
    if not (is_shared() if shared is None else shared):
        return text
    try:
        inside = is_within(text, roots)
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte...
        inside = False
    if not inside:
        raise RefusedInput(f"Server paths are not accepted as a {what} on this shared server: {instead}.")
    return text


def gradio_upload_roots() -> list[str]:
    """Where gradio stores uploads and outputs (its cache), the only visitor-made folders."""
    import tempfile

    env = os.environ.get("GRADIO_TEMP_DIR")
    return [env] if env else [str(Path(tempfile.gettempdir()) / "gradio")]


# --- Budgets ------------------------------------------------------------------------------------

def request_budget(local: float = LOCAL_REQUEST_SECONDS, shared: float = SHARED_REQUEST_SECONDS) -> float:
    """Seconds one request may run: `shared` in shared mode, `local` otherwise."""
    return shared if is_shared() else local


class Deadline:
    """A time budget for one request: check it between steps, or read what is left.

    Example:
        deadline = Deadline(request_budget(), what="the benchmark")
        for step in steps:
            deadline.check()
    """

    def __init__(self, seconds: float, *, what: str = "this request"):
        if not seconds > 0:
            raise ValueError(f"a deadline needs a positive number of seconds, not {seconds!r}")
        self.seconds, self.what = float(seconds), what
        self.end = time.monotonic() + self.seconds

    def left(self) -> float:
        """Seconds left (0 when spent)."""
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def check(self) -> None:
        """Raise `BudgetExceeded` if the budget is spent."""
        if self.expired():
            raise BudgetExceeded(f"{self.what[:1].upper()}{self.what[1:]} ran past its {self.seconds:g} s budget "
                                 "and was stopped. Try smaller settings.")


def memory_budget(*, fraction: float = 0.25, shared_cap: int = 1 << 30) -> int:
    """Bytes one request may allocate: `fraction` of available RAM, capped at `shared_cap` when shared."""
    try:
        import psutil

        available = psutil.virtual_memory().available
    except ImportError:  # psutil is not a base dependency: read Linux's own figure, else assume 4 GiB
        available = _meminfo_available() or 4 << 30
    budget = int(available * fraction)
    return min(budget, shared_cap) if is_shared() else budget


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def operator_only(action: str) -> None:
    """Refuse, in shared mode, an action that would affect every visitor (stop, clear, resize).

    Raises:
        RefusedInput: Naming the action, in shared mode only.
    """
    if is_shared():
        raise RefusedInput(f"{action[:1].upper()}{action[1:]} affects everyone on this shared server, so only its "
                           "operator can do it (from the machine itself).")
