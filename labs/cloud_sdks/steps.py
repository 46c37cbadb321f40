"""A small recorder for the SDK calls: what ran, on which target, how long it took, what came back.

Every task function in storage.py and queues.py wraps each SDK call in `log.step("...")`, so the
table the user sees is built from the calls that really ran, in order, with their timings. Any
text recorded goes through `credentials.scrub` first.

On a shared server a real cloud's endpoint is a host the visitor named, so what it sends back is
not echoed: an SDK error keeps its type, HTTP status and error code, never the reply's text
(`remote_error`), recorded texts are shortened, and signed URLs are fetched through
`shared.serving.guarded_fetch` (checked host and redirects, capped body).
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from labs.cloud_sdks.credentials import scrub
from shared import serving

SIGNED_URL_FETCH_TIMEOUT_S = 10.0
SIGNED_URL_MAX_BYTES = 5 * 1024 * 1024 + 1  # the largest upload (runner.MAX_UPLOAD_BYTES) and one byte more
REMOTE_TEXT_CHARS = 300  # shared mode: a recorded text from a remote target is cut here


class CheckFailed(RuntimeError):
    """A check the lab itself made failed (e.g. a signed URL gave other bytes); the text is the lab's own."""


@dataclass
class Step:
    """One SDK call (or a plain HTTP fetch of a signed URL)."""

    cloud: str
    operation: str
    ms: float
    ok: bool
    result: str
    target: str


@dataclass
class Detail:
    """What a step reports; the task sets `.text` inside the `with` block."""

    text: str = ""


@dataclass
class StepLog:
    """Records the steps of one cloud's task run against one target.

    Args:
        cloud: "Azure", "AWS" or "Google Cloud".
        target: The target's description (never contains a secret).
        secrets: Values to scrub from every recorded text.
        mask_signatures: Mask signed-URL signatures (True for real clouds; emulator keys are public).
        remote: The target is a host a visitor named (shared mode, not an emulator): errors keep
            only their type, status and code, and recorded texts are shortened.
    """

    cloud: str
    target: str
    secrets: list[str] = field(default_factory=list, repr=False)
    mask_signatures: bool = True
    steps: list[Step] = field(default_factory=list)
    remote: bool = False

    def clean(self, text: str) -> str:
        text = scrub(text, self.secrets, signatures=self.mask_signatures)
        if self.remote and len(text) > REMOTE_TEXT_CHARS:
            text = text[:REMOTE_TEXT_CHARS] + "…"
        return text

    @contextmanager
    def step(self, operation: str) -> Iterator[Detail]:
        """Time the block and record it; a failure is recorded (scrubbed) and re-raised."""
        detail = Detail()
        t0 = time.perf_counter()
        try:
            yield detail
        except Exception as exc:
            ms = (time.perf_counter() - t0) * 1000
            self.steps.append(Step(self.cloud, operation, ms, False, self.clean(short_error(exc, remote=self.remote)),
                                   self.target))
            raise
        ms = (time.perf_counter() - t0) * 1000
        self.steps.append(Step(self.cloud, operation, ms, True, self.clean(detail.text), self.target))

    def note(self, operation: str, text: str, ok: bool = True) -> None:
        """Record a line that is not a timed call (e.g. a skipped step and why)."""
        self.steps.append(Step(self.cloud, operation, 0.0, ok, self.clean(text), self.target))


def short_error(exc: BaseException, limit: int = 400, *, remote: bool = False) -> str:
    """The SDK's own message, first lines only: the error code and sentence, not the XML body.

    With `remote` (a visitor-named host on a shared server) only `remote_error(exc)`.
    """
    if remote:
        return remote_error(exc)
    text = f"{type(exc).__name__}: {exc}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    keep = [line for line in lines if not line.startswith(("<", "RequestId:", "Time:", "Content:"))]
    out = " ".join(keep[:3]) or text
    return out[:limit] + ("…" if len(out) > limit else "")


def _token(value: object) -> str:
    """An error code from a reply, reduced to the characters error codes use."""
    return re.sub(r"[^A-Za-z0-9_.-]", "", str(value))[:64]


def remote_error(exc: BaseException) -> str:
    """An SDK error from a visitor-named host, without any text of the reply (shared mode).

    SDK messages quote the remote body (Azure's `Content:`, botocore's parser errors, Google's
    JSON `message`), so only the exception type, the HTTP status and the error code are kept.
    The lab's own messages (`RefusedInput`, `BudgetExceeded`, `CheckFailed`) are shown whole.
    """
    if isinstance(exc, (serving.RefusedInput, serving.BudgetExceeded, CheckFailed)):
        return str(exc)
    status, code = None, None
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore's ClientError: the parsed reply
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code")
    else:
        status = getattr(exc, "status_code", None)  # azure-core's HttpResponseError
        code = getattr(exc, "error_code", None)
        if status is None and isinstance(getattr(exc, "code", None), int):  # google.api_core's errors
            status = exc.code
        if status is None and response is not None:  # requests' HTTPError
            status = getattr(response, "status_code", None)
    parts = [f"HTTP {int(status)}"] if isinstance(status, int) else []
    if code and _token(code):
        parts.append(f"error code {_token(code)}")
    names = {cls.__name__ for cls in type(exc).__mro__}
    if not parts and names & {"HTTPClientError", "ServiceRequestError", "ConnectionError", "Timeout",
                              "TimeoutError", "ConnectTimeoutError", "ReadTimeoutError"}:
        parts.append("no answer from the endpoint (connection refused, timed out or not resolved)")
    detail = ", ".join(parts) or "an unexpected reply"
    return f"{type(exc).__name__} ({detail}); the reply's own text is not shown on a shared server"


def http_get(url: str, timeout: float = SIGNED_URL_FETCH_TIMEOUT_S, *, remote: bool = False) -> tuple[int, bytes]:
    """GET `url` with no SDK and no credentials, as a browser or curl would. Returns (status, body).

    With `remote` on a shared server (a signed URL on a visitor-named host) the fetch goes
    through `serving.guarded_fetch`: the host and every redirect are checked, the body capped.
    """
    if remote and serving.is_shared():
        return serving.guarded_fetch(url, what="signed URL", timeout=timeout, max_bytes=SIGNED_URL_MAX_BYTES)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def tamper(url: str, param: str) -> str:
    """The same URL with one character of its signature changed (a forged link).

    The first character is swapped for another of the same kind (digit, upper or lower case), so
    the signature stays well-formed base64 or hex and only its value is wrong: a service that
    checks signatures must answer 403, not 400.
    """
    head, sep, tail = url.partition(f"{param}=")
    if not sep:
        return url + "0"
    sig, amp, rest = tail.partition("&")
    first = sig[:1]
    if first.isdigit():
        swap = "1" if first != "1" else "2"
    elif first.isupper():
        swap = "B" if first != "B" else "C"
    else:
        swap = "b" if first != "b" else "c"
    return head + sep + swap + sig[1:] + amp + rest
