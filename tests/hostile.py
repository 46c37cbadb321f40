"""Test helpers for replaying a hostile visitor: recording listeners and fake operator secrets.

`Recorder` is a real HTTP server on 127.0.0.1 that stands in for a visitor's host, a cloud
metadata service or a hub; it answers every request with a fixed reply and records it (method,
path, headers, body), so a test can assert that nothing (or nothing secret) reached it.
`FAKE_SECRETS` are planted in the environment by the `operator_secrets` fixture (conftest) and
searched for in every reply, file and log line with `leaked_secrets`.
"""

from __future__ import annotations

import http.server
import threading
from dataclasses import dataclass, field
from typing import Iterable

# Values no real service would hand out, distinctive enough to search for anywhere.
FAKE_SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAOPERATORFAKE0001",
    "AWS_SECRET_ACCESS_KEY": "operator-aws-secret-FAKE-0123456789abcdef",
    "AWS_SESSION_TOKEN": "operator-aws-session-token-FAKE",
    "HF_TOKEN": "hf_operatorFAKEtoken0123456789abcdefgh",
    "HUGGING_FACE_HUB_TOKEN": "hf_operatorFAKEtoken0123456789abcdefgh",
    "COSMOS_ENDPOINT": "https://operator-account.documents.azure.com:443/",
    "COSMOS_KEY": "b3BlcmF0b3ItY29zbW9zLWtleS1GQUtFLTAxMjM0NTY3ODk=",
    "AZURE_STORAGE_CONNECTION_STRING": (
        "DefaultEndpointsProtocol=https;AccountName=operatorfake;"
        "AccountKey=b3BlcmF0b3ItYXp1cmUta2V5LUZBS0UtMDEyMzQ1Njc4OQ==;EndpointSuffix=core.windows.net"),
    "AZURE_CLIENT_SECRET": "operator-azure-client-secret-FAKE",
    "GOOGLE_API_KEY": "operator-google-api-key-FAKE",
}
# The distinctive parts to search for (a connection string is found by its key).
SECRET_MARKERS = ("OPERATORFAKE", "operator-aws-secret-FAKE", "operator-aws-session-token-FAKE",
                  "hf_operatorFAKEtoken", "b3BlcmF0b3ItY29zbW9zLWtleS1GQUtF", "b3BlcmF0b3ItYXp1cmUta2V5",
                  "operator-azure-client-secret-FAKE", "operator-google-api-key-FAKE", "operator-account")


def leaked_secrets(*texts: object) -> list[str]:
    """The fake operator secrets (markers) found in any of `texts` (str, bytes or anything repr-able)."""
    found = []
    for text in texts:
        blob = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        found += [m for m in SECRET_MARKERS if m.lower() in blob.lower()]
    return sorted(set(found))


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return f"{self.method} {self.path}\n{self.headers}\n{self.body.decode('utf-8', 'replace')}"


@dataclass
class Recorder:
    """A real HTTP listener on 127.0.0.1 that records every request and answers `reply`."""

    reply: bytes = b"<html>operator-internal-page: do not show</html>"
    status: int = 200
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)  # extra reply headers (e.g. Location)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self):
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                self.send_response(recorder.status)
                self.send_header("Content-Type", recorder.content_type)
                self.send_header("Content-Length", str(len(recorder.reply)))
                for name, value in recorder.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(recorder.reply)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _answer

            def log_message(self, *args):  # keep test output clean
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def all_text(self) -> str:
        return "\n".join(s.text() for s in self.seen)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def no_secret_in(texts: Iterable[object]) -> None:
    """Assert that none of the fake operator secrets appear in `texts`."""
    found = leaked_secrets(*texts)
    assert not found, f"operator secrets leaked: {found}"


def reachable_peer(monkeypatch, url: str) -> None:
    """Let connections to `url`'s port pass shared mode's connected-peer check (`shared.egress`),
    so a recorder on 127.0.0.1 can stand for a public visitor host; every other peer is still checked."""
    import urllib.parse

    from shared import egress

    real, port = egress.refused_peer, urllib.parse.urlsplit(url).port
    monkeypatch.setattr(egress, "refused_peer", lambda sock: None if sock.getpeername()[1] == port else real(sock))
