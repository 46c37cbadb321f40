"""A small recorder for the SDK calls: what ran, on which target, how long it took, what came back.

Every task function in storage.py and queues.py wraps each SDK call in `log.step("...")`, so the
table the user sees is built from the calls that really ran, in order, with their timings. Any
text recorded goes through `credentials.scrub` first.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from labs.cloud_sdks.credentials import scrub

SIGNED_URL_FETCH_TIMEOUT_S = 10.0


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
    """

    cloud: str
    target: str
    secrets: list[str] = field(default_factory=list, repr=False)
    mask_signatures: bool = True
    steps: list[Step] = field(default_factory=list)

    def clean(self, text: str) -> str:
        return scrub(text, self.secrets, signatures=self.mask_signatures)

    @contextmanager
    def step(self, operation: str) -> Iterator[Detail]:
        """Time the block and record it; a failure is recorded (scrubbed) and re-raised."""
        detail = Detail()
        t0 = time.perf_counter()
        try:
            yield detail
        except Exception as exc:
            ms = (time.perf_counter() - t0) * 1000
            self.steps.append(Step(self.cloud, operation, ms, False, self.clean(short_error(exc)), self.target))
            raise
        ms = (time.perf_counter() - t0) * 1000
        self.steps.append(Step(self.cloud, operation, ms, True, self.clean(detail.text), self.target))

    def note(self, operation: str, text: str, ok: bool = True) -> None:
        """Record a line that is not a timed call (e.g. a skipped step and why)."""
        self.steps.append(Step(self.cloud, operation, 0.0, ok, self.clean(text), self.target))


def short_error(exc: BaseException, limit: int = 400) -> str:
    """The SDK's own message, first lines only: the error code and sentence, not the XML body."""
    text = f"{type(exc).__name__}: {exc}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    keep = [line for line in lines if not line.startswith(("<", "RequestId:", "Time:", "Content:"))]
    out = " ".join(keep[:3]) or text
    return out[:limit] + ("…" if len(out) > limit else "")


def http_get(url: str, timeout: float = SIGNED_URL_FETCH_TIMEOUT_S) -> tuple[int, bytes]:
    """GET `url` with no SDK and no credentials, as a browser or curl would. Returns (status, body)."""
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
