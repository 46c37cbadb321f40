"""Real predictions from the replicas: the lab's digit model, asked over HTTP through nginx.

Two questions a deployment must answer, asked of real replica processes on 127.0.0.1:

- `held_out_through`: does the served model predict what the trained model predicts? The held-out
  split goes through nginx in one POST per replica (round-robin spreads them), and every answer is
  compared with the same model run in this process; the accuracy is computed from the replicas'
  answers.
- `predict_digit`: one digit (a held-out sample or a drawing), through a fresh set of replicas
  behind nginx: which digit, how sure, which replica answered. Every process is stopped afterwards.
"""

from __future__ import annotations

import http.client
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from labs.docker_mlops.model import trained
from labs.docker_mlops.replica import check_pixels
from labs.docker_mlops.replicas import HOST, REQUEST_TIMEOUT_S, KEEP_S, Nginx, ReplicaSet, NginxMissing
from labs.docker_mlops.settings import SLUG, check_int
from shared import scratch

# Replicas started for one digit: two, so the answer visibly comes from one of several.
PREDICT_REPLICAS = 2


def post_json(port: int, path: str, body: dict, timeout: float = REQUEST_TIMEOUT_S) -> tuple[int, dict, dict]:
    """POST JSON to http://127.0.0.1:port/path; return (status, headers, JSON body or {})."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json",
                                                                    "Connection": "close"})
        resp = conn.getresponse()
        raw = resp.read()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"text": raw.decode(errors="replace")}
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


@dataclass
class HeldOut:
    """The held-out split, predicted by the replicas through nginx."""

    n: int = 0
    correct: int = 0
    same_as_in_process: int = 0
    per_replica: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def line(self) -> str:
        by = ", ".join(f"{name} {count}" for name, count in self.per_replica.items())
        if self.errors:
            return f"Held-out digits through nginx: {len(self.errors)} request(s) failed: {self.errors[0]}"
        return (f"Held-out digits through nginx: **{self.n}** predicted by the replicas ({by}); accuracy "
                f"**{self.accuracy:.3f}**; identical to the model run in this process: "
                f"**{self.same_as_in_process}/{self.n}**.")


def held_out_through(port: int, batches: int) -> HeldOut:
    """POST the held-out split through nginx on `port` in `batches` requests; compare with in-process.

    Args:
        port: nginx (or one replica) on 127.0.0.1.
        batches: Requests to split the images over (the replica count: round-robin gives one each).
    """
    import numpy as np

    tm = trained()
    expected = tm.model().predict(tm.x_test)
    out = HeldOut()
    for chunk in np.array_split(np.arange(tm.n_test), max(1, batches)):
        status, headers, body = post_json(port, "/predict", {"instances": tm.x_test[chunk].tolist()})
        if status != 200:
            out.errors.append(f"HTTP {status}: {str(body.get('error', body))[:200]}")
            continue
        got = np.asarray(body["predictions"])
        name = headers.get("x-replica", body.get("replica", "?"))
        out.per_replica[name] = out.per_replica.get(name, 0) + len(chunk)
        out.n += len(chunk)
        out.correct += int((got == tm.y_test[chunk]).sum())
        out.same_as_in_process += int((got == expected[chunk]).sum())
    return out


@dataclass
class DigitAnswer:
    """One digit predicted by a replica behind nginx, and the same digit predicted in this process."""

    digit: int
    probabilities: list[float]
    replica: str
    upstream: str
    in_process: int
    via_nginx: bool
    all_stopped: bool


def predict_digit(pixels, *, replicas: int = PREDICT_REPLICAS, workdir: Path | None = None) -> DigitAnswer:
    """Start `replicas` replicas behind nginx, send one digit (POST /predict), stop everything.

    Without nginx the digit goes to replica r1 directly (`via_nginx` says so). Bounded: at most
    MAX_REPLICAS processes for one request, each stopped in `finally`.

    Raises:
        ValueError: If `pixels` is not 64 numbers in 0-16 (checked before any process starts).
    """
    x = check_pixels([list(pixels)])
    replicas = check_int("Replicas", replicas, 1, 8)
    own = workdir is None
    workdir = Path(workdir or scratch.new_folder(SLUG, prefix="predict-", keep_s=KEEP_S))
    replica_set = ReplicaSet(replicas, workdir)
    nginx = None
    try:
        replica_set.start()
        port = replica_set.replicas[0].port
        try:
            nginx = Nginx([f"{HOST}:{r.port}" for r in replica_set.replicas], workdir)
        except NginxMissing:  # still a real replica answering, just not balanced: the answer says so
            nginx = None
        if nginx is not None:
            port = nginx.start().port
        status, headers, body = post_json(port, "/predict", {"pixels": x[0].tolist()})
        if status != 200:
            raise ValueError(f"The replica answered HTTP {status}: {body.get('error', body)}")
        in_process = int(trained().model().predict(x)[0])
        answer = DigitAnswer(digit=int(body["predictions"][0]), probabilities=body["probabilities"][0],
                             replica=headers.get("x-replica", body.get("replica", "?")),
                             upstream=headers.get("x-upstream", ""), in_process=in_process,
                             via_nginx=nginx is not None, all_stopped=False)
    finally:
        if nginx is not None:
            nginx.stop()
        replica_set.stop()
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    answer.all_stopped = replica_set.all_stopped and (nginx is None or nginx.stopped)
    return answer
