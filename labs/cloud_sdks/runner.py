"""Run the same task on the three clouds, one after the other, and collect what happened.

`run_storage` and `run_queues` check the inputs (names, sizes), pick each cloud's target
(emulator or real, see credentials.py), start the emulators that are needed side by side, then
run each cloud's task function and record every call. One cloud failing (a missing emulator,
wrong credentials) does not stop the others: its row says what went wrong, cleaned of secrets.

On a shared server (`shared.serving.is_shared()`) a run first refuses what would lend the
server's credentials or reach its network (`credentials.check_for_visitor`), always adds the
random suffix to names (the emulators are shared: one visitor must not reach another's bucket
or queue), caps the length of every text input, and shows a real cloud's errors without the
text of its reply.
"""

from __future__ import annotations

import os
import secrets as pysecrets
from dataclasses import dataclass, field
from typing import Callable

from labs.cloud_sdks import credentials as cred
from labs.cloud_sdks import emulators, naming, queues, storage
from labs.cloud_sdks.steps import Step, StepLog, short_error
from shared import serving
from shared.optional import MissingDependency, require

SLUG = "cloud_sdks"
CLOUDS = ("Azure", "AWS", "Google Cloud")  # the user's order of preference for ML
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # 5 MB: single-request uploads on all three SDKs, quick on an emulator
MAX_MESSAGES = 20  # a demo, not a load test
MAX_MESSAGE_BYTES = 48 * 1024  # Azure Queue Storage's limit is 64 KiB after base64; SQS allows 256 KiB
EMULATOR_OF = {"Azure": "azurite", "AWS": "moto", "Google Cloud": "gcs"}
QUEUE_EMULATOR_OF = {**EMULATOR_OF, "Google Cloud": "pubsub"}  # Pub/Sub: the lab's stand-in
SDK_MODULE = {"Azure": "azure.storage.blob", "AWS": "boto3", "Google Cloud": "google.cloud.storage"}
QUEUE_SDK_MODULE = {"Azure": "azure.storage.queue", "AWS": "boto3", "Google Cloud": "google.cloud.pubsub_v1"}
# Shared mode: longest text accepted in a box, checked before any rule quotes it back.
MAX_BASE_NAME_CHARS = 256  # every cloud stops at 222 characters (GCS with dots), most at 63
MAX_OBJECT_NAME_CHARS = 2048  # object names stop at 1024 bytes
MAX_MESSAGES_CHARS = 2 * MAX_MESSAGES * MAX_MESSAGE_BYTES  # the whole messages box


# Distributions the lab uses, checked by metadata: finding `azure.storage.blob` with importlib
# would import the `azure` and `google` namespace packages, which the launcher must not load.
SDK_DISTRIBUTIONS = ("azure-storage-blob", "azure-storage-queue", "azure-identity", "boto3", "google-cloud-storage",
                     "google-cloud-pubsub")


def missing_distributions(names: tuple[str, ...] = SDK_DISTRIBUTIONS) -> list[str]:
    """The distributions in `names` that are not installed (checked without importing them)."""
    from importlib import metadata

    absent = []
    for name in names:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            absent.append(name)
    return absent


class InputError(ValueError):
    """Bad input to a run (payload too big, empty, unknown cloud); the message says what to do."""


@dataclass
class RunResult:
    """Every step of one run, the target each cloud hit, and the clouds that failed (with why)."""

    task: str
    steps: list[Step] = field(default_factory=list)
    targets: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def table(self) -> list[list]:
        """Rows for the UI: cloud, operation, ms, ok, result, target."""
        return [[s.cloud, s.operation, round(s.ms, 1), "✅" if s.ok else "❌", s.result, s.target] for s in self.steps]

    def summary(self) -> str:
        """Markdown: per cloud, which target it hit and how it went."""
        lines = [f"### {self.task}: which target each SDK hit"]
        for cloud in CLOUDS:
            if cloud not in self.targets and cloud not in self.failures:
                continue
            mine = [s for s in self.steps if s.cloud == cloud]
            total = sum(s.ms for s in mine)
            where = self.targets.get(cloud, "no target")
            if cloud in self.failures:
                lines.append(f"- **{cloud}** → {where}: ❌ {self.failures[cloud]}")
            else:
                lines.append(f"- **{cloud}** → {where}: ✅ {len(mine)} calls, all OK, {total:.0f} ms in total.")
        names = ", ".join(f"`{v}`" for v in dict.fromkeys(self.names.values()))
        if names:
            lines.append(f"\nNames used: {names} (deleted again at the end).")
        return "\n".join(lines)


def read_payload(text: str | None, file_path: str | None) -> tuple[bytes, str]:
    """The bytes to upload: the uploaded file if any, else the text. Checks the size limit.

    Raises:
        InputError: If both are empty or the payload is larger than MAX_UPLOAD_BYTES.
    """
    if file_path:
        serving.check_visitor_path(file_path, roots=serving.gradio_upload_roots(), what="file to upload",
                                   instead="upload the file with the upload box")
        size = os.path.getsize(file_path)
        if size > MAX_UPLOAD_BYTES:
            raise InputError(f"The file is {size / 1e6:.1f} MB; this lab uploads at most {MAX_UPLOAD_BYTES / 1e6:.0f} MB "
                             "per object. Pick a smaller file (real clouds take far more, in multipart/block uploads).")
        if size == 0:
            raise InputError("The uploaded file is empty: pick a file with some content, or type text instead.")
        with open(file_path, "rb") as fh:
            return fh.read(), os.path.basename(file_path)
    data = (text or "").encode("utf-8")
    if not data:
        raise InputError("Nothing to upload: type some text or upload a file.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"The text is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB.")
    return data, "text"


def split_messages(text: str | None) -> list[str]:
    """The messages box, one message per line (its size is capped on a shared server).

    Raises:
        InputError: In shared mode, for a box far larger than MAX_MESSAGES messages could fill.
    """
    text = text or ""
    if serving.is_shared() and len(text) > MAX_MESSAGES_CHARS:
        raise InputError(f"The messages box holds {len(text):,} characters; this demo sends at most {MAX_MESSAGES} "
                         f"messages of {MAX_MESSAGE_BYTES // 1024} KiB each.")
    return text.splitlines()


def _check_text_sizes(base_name: str, object_name: str | None = None) -> None:
    """Shared mode: refuse names far longer than any cloud allows, before a rule quotes them back."""
    if not serving.is_shared():
        return
    if len(base_name or "") > MAX_BASE_NAME_CHARS:
        raise InputError(f"The name has {len(base_name):,} characters; no cloud accepts more than 222 (most 63).")
    if object_name is not None and len(object_name) > MAX_OBJECT_NAME_CHARS:
        raise InputError(f"The object name has {len(object_name):,} characters; object names stop at 1024 bytes.")


def final_name(base: str, unique: bool) -> str:
    """`base`, plus a short random suffix when `unique` (so many users can run at once).

    On a shared server the suffix is always added: the emulators are shared, and a name a visitor
    picks must never be another visitor's bucket or queue.
    """
    unique = unique or serving.is_shared()
    base = (base or "").strip()
    return f"{base}-{pysecrets.token_hex(3)}" if unique and base else base


def _pick_clouds(clouds) -> list[str]:
    clouds = CLOUDS if clouds is None else clouds  # None: all; an empty selection is refused below
    chosen = [c for c in CLOUDS if c in clouds]
    unknown = [c for c in clouds if c not in CLOUDS]
    if unknown or not chosen:
        raise InputError(f"Pick at least one cloud from {', '.join(CLOUDS)}" + (f" (unknown: {unknown})" if unknown else "") + ".")
    return chosen


def _uses_emulator(creds: cred.Credentials, cloud: str) -> bool:
    if creds.use_environment:
        return False
    return not {"Azure": creds.azure_connection_string, "AWS": creds.aws_access_key_id,
                "Google Cloud": creds.gcp_service_account_json}[cloud].strip()


def _target(creds: cred.Credentials, cloud: str, queues: bool = False):
    if cloud == "Google Cloud":
        return cred.gcp_target(creds, "pubsub" if queues else "storage")
    return {"Azure": cred.azure_target, "AWS": cred.aws_target}[cloud](creds)


def _run(task: str, creds: cred.Credentials, clouds: list[str], modules: dict[str, str],
         call: Callable, progress: Callable[[str], None] | None, *, queues: bool = False) -> RunResult:
    """Resolve targets, start the needed emulators side by side, run `call` per cloud, record it all."""
    say = progress or (lambda _msg: None)
    result = RunResult(task)
    secrets = creds.secrets()
    emulator_of = QUEUE_EMULATOR_OF if queues else EMULATOR_OF
    official_pubsub = queues and cred.pubsub_emulator_host()
    emulators.POOL.ensure([emulator_of[c] for c in clouds if _uses_emulator(creds, c)
                           and not (c == "Google Cloud" and official_pubsub)], say)
    for cloud in clouds:
        say(f"{cloud}: running {task.lower()}")
        try:
            target = _target(creds, cloud, queues)
        except ValueError as exc:  # EmulatorError, or this cloud's credentials/settings (bad key, bad region)
            result.failures[cloud] = cred.scrub(str(exc), secrets)
            continue
        except Exception as exc:  # anything else an SDK raises while reading its config: this cloud only
            result.failures[cloud] = cred.scrub(short_error(exc), secrets)
            continue
        result.targets[cloud] = target.description
        remote = serving.is_shared() and target.kind != "emulator"  # a host a visitor named: no reply text shown
        log = StepLog(cloud, target.description, secrets, mask_signatures=target.kind != "emulator", remote=remote)
        try:
            require(modules[cloud], slug=SLUG, purpose=f"the {cloud} SDK")
            call(cloud, target, log)
        except MissingDependency as exc:
            result.failures[cloud] = str(exc)
        except Exception as exc:  # the SDK's own message, cleaned of secrets; the other clouds still run
            result.failures[cloud] = cred.scrub(short_error(exc, remote=remote), secrets)
        result.steps += log.steps
    return result


def run_storage(creds: cred.Credentials, base_name: str, object_name: str, data: bytes, *,
                unique: bool = True, clouds=CLOUDS, progress: Callable[[str], None] | None = None) -> RunResult:
    """Create, upload, list, download, sign a URL, delete: on each chosen cloud.

    Raises:
        naming.NamingError: If the bucket or object name breaks any cloud's rules.
        InputError: If the payload is too big or no cloud is chosen.
    """
    chosen = _pick_clouds(clouds)
    cred.check_for_visitor(creds, chosen)
    _check_text_sizes(base_name, object_name)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"The payload is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB.")
    name = final_name(base_name, unique)
    naming.require_valid(name, naming.BUCKET_RULES, "bucket/container")
    problems = naming.object_name_problems(object_name or "")
    if problems:
        raise naming.NamingError(f"The object name '{object_name}' {'; '.join(problems)}. Try 'hello/model-card.md'.")
    functions = {"Azure": storage.azure_blob_demo, "AWS": storage.s3_demo, "Google Cloud": storage.gcs_demo}

    def call(cloud, target, log):
        functions[cloud](target, name, object_name, data, log)

    result = _run("Object storage", creds, chosen, SDK_MODULE, call, progress)
    result.names = {c: name for c in chosen}
    return result


def run_queues(creds: cred.Credentials, base_name: str, messages: list[str], *, unique: bool = True,
               clouds=CLOUDS, progress: Callable[[str], None] | None = None) -> RunResult:
    """Create a queue, send, receive + delete, delete the queue: on each chosen cloud.

    Raises:
        naming.NamingError: If the queue name breaks a cloud's rules.
        InputError: For no messages, too many, or too long.
    """
    chosen = _pick_clouds(clouds)
    cred.check_for_visitor(creds, chosen)
    _check_text_sizes(base_name)
    messages = [m.strip() for m in messages if m and m.strip()]
    if not messages:
        raise InputError("No messages: type one per line, e.g. 'train model-a'.")
    if len(messages) > MAX_MESSAGES:
        raise InputError(f"{len(messages)} messages; this demo sends at most {MAX_MESSAGES}.")
    if any(len(m.encode()) > MAX_MESSAGE_BYTES for m in messages):
        raise InputError(f"A message is longer than {MAX_MESSAGE_BYTES // 1024} KiB; queues carry small jobs, "
                         "put big payloads in object storage and send their names.")
    name = final_name(base_name, unique)
    naming.require_valid(name, naming.QUEUE_RULES, "queue")
    functions = {"Azure": queues.azure_queue_demo, "AWS": queues.sqs_demo, "Google Cloud": queues.pubsub_demo}

    def call(cloud, target, log):
        functions[cloud](target, name, messages, log)

    result = _run("Message queues", creds, chosen, QUEUE_SDK_MODULE, call, progress, queues=True)
    result.names = {c: name for c in chosen}
    return result
