"""'All Python libraries' per cloud: read the dated snapshot, search and filter it, mark what is installed.

The snapshot (data/cloud_packages.csv) is built by build_catalogue.py from a package index listing,
its publisher and status columns refreshed from each package's own index metadata (with the rule
used, per row), and committed; nothing is fetched at run time. AWS's service coverage comes from a second, live
source: the service models that ship inside the installed botocore (one boto3 client per service).
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from shared import serving

SNAPSHOT = Path(__file__).with_name("data") / "cloud_packages.csv"
CLOUDS = ("Azure", "AWS", "Google Cloud")
MAX_ROWS = 500  # rows sent to the browser at once; the counts always cover every match
MAX_QUERY_CHARS = 200  # shared mode: a search is a few words, not a document
ML_SERVICES = re.compile(r"sagemaker|bedrock|comprehend|rekognition|textract|transcribe|translate|polly|"
                         r"personalize|forecast|kendra|lex|frauddetector|lookout|healthlake|q(business|connect|apps)")


@dataclass(frozen=True)
class Snapshot:
    """The loaded snapshot: its date, its provenance line and its rows (dicts of the CSV columns)."""

    date: str
    source: str
    rows: tuple[dict[str, str], ...]
    checked: str = ""  # when publisher/status were last read from the index's metadata, and for how many rows


@functools.lru_cache(maxsize=1)
def load(path: Path = SNAPSHOT) -> Snapshot:
    """Read the snapshot once per process.

    Raises:
        ValueError: If the file is missing (the message says how to rebuild it).
    """
    if not path.is_file():
        raise ValueError(f"The package snapshot {path.name} is missing. Rebuild it with "
                         "`python -m labs.cloud_sdks.build_catalogue LISTING.tsv`.")
    date, source, checked, lines = "unknown", "", "", []
    with open(path, encoding="utf-8", newline="") as fh:
        for line in fh:
            if line.startswith("# snapshot-date:"):
                date = line.split(":", 1)[1].strip()
            elif line.startswith("# metadata-checked:"):
                checked = line.split(":", 1)[1].strip()
            elif line.startswith("#"):
                source = line[1:].strip()
            else:
                lines.append(line)
    return Snapshot(date, source, tuple(csv.DictReader(lines)), checked)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_names() -> set[str]:
    """Normalised names of every distribution installed in this Python environment."""
    return {_norm(d.metadata["Name"]) for d in metadata.distributions() if d.metadata["Name"]}


def counts(snapshot: Snapshot | None = None) -> dict[str, dict[str, int]]:
    """Per cloud: packages in total, official ones, and rows (families count as their members)."""
    snap = snapshot or load()
    out = {c: {"packages": 0, "official": 0, "rows": 0} for c in CLOUDS}
    for row in snap.rows:
        n = int(row["packages"] or 1)
        out[row["cloud"]]["packages"] += n
        out[row["cloud"]]["rows"] += 1
        if row["publisher"] == "official":
            out[row["cloud"]]["official"] += n
    return out


def categories(snapshot: Snapshot | None = None) -> list[str]:
    """Every category name in the snapshot, sorted."""
    return sorted({row["category"] for row in (snapshot or load()).rows})


def _words(query: str | None) -> list[str]:
    """The query's words, lower case; on a shared server a query over MAX_QUERY_CHARS is refused."""
    query = query or ""
    if serving.is_shared() and len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"The search has {len(query):,} characters; type a few words (at most {MAX_QUERY_CHARS} "
                         "characters on a shared server).")
    return [w.lower() for w in query.split()]


def search(query: str = "", cloud: str = "All", category: str = "All", official_only: bool = False,
           installed_only: bool = False, limit: int = MAX_ROWS) -> tuple[list[list], int]:
    """Filter the snapshot. Returns (rows for the table, number of matching rows before `limit`).

    Each row: cloud, name, purpose, category, publisher (official/community), latest version, released,
    installed here, status (GA/preview/deprecated/yanked/...), published by, and why (the rule that
    decided publisher and status for that row). `query` matches name, summary, status or publisher,
    case-insensitive; several words must all match.
    """
    if cloud not in ("All", *CLOUDS):
        raise ValueError(f"Unknown cloud {cloud!r}: pick All, {', '.join(CLOUDS)}.")
    words = _words(query)
    have = installed_names()
    matched = []
    for row in load().rows:
        if cloud != "All" and row["cloud"] != cloud:
            continue
        if category != "All" and row["category"] != category:
            continue
        if official_only and row["publisher"] != "official":
            continue
        text = f"{row['name']} {row['summary']} {row.get('status', '')} {row.get('publisher_name', '')}".lower()
        if words and not all(w in text for w in words):
            continue
        if row["name"].endswith("*"):
            here = "—"
            name = f"{row['name']} ({row['packages']} packages)"
        else:
            here = "yes" if _norm(row["name"]) in have else "no"
            name = row["name"]
        if installed_only and here != "yes":
            continue
        matched.append([row["cloud"], name, row["summary"], row["category"], row["publisher"], row["version"],
                        row["released"], here, row.get("status", ""), row.get("publisher_name", ""), row.get("rule", "")])
    return matched[:limit], len(matched)


def aws_services(query: str = "") -> tuple[list[list], int, str]:
    """AWS services the installed botocore can call (every one is a boto3.client name).

    Returns:
        (rows of [service, ML-related?], total services, botocore version).
    """
    import botocore.session

    session = botocore.session.get_session()
    services = session.get_available_services()
    words = _words(query)
    rows = [[s, "ML / AI" if ML_SERVICES.search(s) else ""] for s in services
            if all(w in s for w in words)]
    return rows, len(services), metadata.version("botocore")


def aws_service_detail(name: str) -> str:
    """Markdown about one AWS service from botocore's model: full name, protocol, operations."""
    import botocore.session
    from botocore import xform_name
    from botocore.exceptions import UnknownServiceError

    session = botocore.session.get_session()
    name = (name or "").strip()
    try:
        # Shared mode: only a listed service (botocore joins the name into a path on disk: no '../x').
        if serving.is_shared() and name not in session.get_available_services():
            raise UnknownServiceError(service_name=name[:80], known_service_names="")
        model = session.get_service_model(name)
    except UnknownServiceError:
        raise ValueError(f"botocore has no service called {name[:80]!r}; pick one from the table (e.g. s3, sagemaker).") from None
    ops = model.operation_names
    full = model.metadata.get("serviceFullName", name)
    sample = ", ".join(ops[:12]) + (" …" if len(ops) > 12 else "")
    return (f"**{full}** — `boto3.client(\"{name}\")`\n\n"
            f"- protocol: `{model.protocol}`, API version `{model.api_version}`\n"
            f"- {len(ops)} operations: {sample}\n"
            f"- boto3 method names are snake_case: `{xform_name(ops[0]) if ops else ''}(...)`")
