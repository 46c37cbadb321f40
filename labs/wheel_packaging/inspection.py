"""Open a wheel (it is a zip file) and read what installers read: WHEEL, METADATA, RECORD, licences.

- ``WHEEL``: wheel format version, generator, purelib or platlib, and the compatibility tags.
- ``METADATA``: core metadata (PEP 566/643/639): name, version, License-Expression, License-File...
- ``RECORD``: every file with its sha256 (urlsafe base64, no padding) and size; pip checks them,
  and so does `verify_record` here, file by file.
- ``licenses/``: the licence files PEP 639 puts under ``.dist-info/licenses/``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path


class WheelFormatError(ValueError):
    """The file is not a readable wheel; the message says what is wrong."""


@dataclass
class RecordRow:
    """One RECORD line and what the check found (``ok``, ``hash mismatch``, ``size mismatch``...)."""

    path: str
    hash: str
    size: str
    status: str


@dataclass
class WheelReport:
    """Everything read from one wheel."""

    filename: str
    name: str
    version: str
    tags: list[str]
    files: list[tuple[str, int, int]]  # (path, size, compressed size)
    wheel: dict[str, list[str]]
    metadata: list[tuple[str, str]]  # header lines in order (repeated keys kept)
    record: list[RecordRow] = field(default_factory=list)
    licenses: list[str] = field(default_factory=list)
    entry_points: str = ""

    @property
    def record_ok(self) -> bool:
        """True when every file matches its RECORD line and no file is unlisted."""
        return all(row.status in ("ok", "RECORD itself (not hashed)") for row in self.record)

    def meta(self, key: str) -> list[str]:
        """All METADATA values for `key` (e.g. ``"License-File"``)."""
        return [v for k, v in self.metadata if k.lower() == key.lower()]


def record_hash(data: bytes) -> str:
    """The RECORD form of a file's hash: ``sha256=`` + urlsafe base64 without ``=`` padding."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify_record(zf: zipfile.ZipFile, record_path: str) -> list[RecordRow]:
    """Recompute every file's hash and size and compare them with RECORD; flag unlisted files."""
    rows = []
    listed = set()
    for line in csv.reader(io.StringIO(zf.read(record_path).decode("utf-8"))):
        if not line:
            continue
        path, digest, size = (line + ["", ""])[:3]
        listed.add(path)
        if path == record_path:
            rows.append(RecordRow(path, digest, size, "RECORD itself (not hashed)"))
            continue
        try:
            data = zf.read(path)
        except KeyError:
            rows.append(RecordRow(path, digest, size, "listed but missing"))
            continue
        if digest != record_hash(data):
            status = "hash mismatch"
        elif size and int(size) != len(data):
            status = "size mismatch"
        else:
            status = "ok"
        rows.append(RecordRow(path, digest, size, status))
    for info in zf.infolist():
        if info.filename not in listed and not info.is_dir():
            rows.append(RecordRow(info.filename, "", str(info.file_size), "not in RECORD"))
    return rows


def inspect_wheel(path: Path) -> WheelReport:
    """Read a wheel's file list, WHEEL, METADATA, entry points, licences, and verify RECORD.

    Raises:
        WheelFormatError: If the file is not a zip or lacks a .dist-info folder.
    """
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        name, version, _build, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        raise WheelFormatError(f"{path.name} is not a valid wheel file name ({exc}).") from None
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise WheelFormatError(f"{path.name} is not a zip archive, so it is not a wheel.") from None
    with zf:
        names = zf.namelist()
        dist_info = next((n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")), None)
        if dist_info is None:
            raise WheelFormatError(f"{path.name} has no .dist-info folder, so installers cannot read it.")
        parser = HeaderParser()
        wheel_msg = parser.parsestr(zf.read(f"{dist_info}/WHEEL").decode("utf-8"))
        meta_msg = parser.parsestr(zf.read(f"{dist_info}/METADATA").decode("utf-8"))
        wheel: dict[str, list[str]] = {}
        for key, value in wheel_msg.items():
            wheel.setdefault(key, []).append(value)
        ep = f"{dist_info}/entry_points.txt"
        return WheelReport(
            filename=path.name, name=str(name), version=str(version), tags=sorted(str(t) for t in tags),
            files=[(i.filename, i.file_size, i.compress_size) for i in zf.infolist() if not i.is_dir()],
            wheel=wheel, metadata=list(meta_msg.items()),
            record=verify_record(zf, f"{dist_info}/RECORD"),
            licenses=sorted(n for n in names if n.startswith(f"{dist_info}/licenses/")),
            entry_points=zf.read(ep).decode("utf-8") if ep in names else "",
        )


def tree_markdown(report: WheelReport) -> str:
    """The wheel's files as a Markdown table (path, size, compressed size)."""
    rows = "\n".join(f"| `{p}` | {s:,} | {c:,} |" for p, s, c in report.files)
    total = sum(s for _, s, _ in report.files)
    return f"| File | Bytes | Compressed |\n|---|---:|---:|\n{rows}\n| **{len(report.files)} files** | **{total:,}** | |"


def report_markdown(report: WheelReport) -> str:
    """A readable summary: tags, WHEEL, licence metadata, RECORD verdict and the file tree."""
    bad = [r for r in report.record if r.status not in ("ok", "RECORD itself (not hashed)")]
    verdict = (f"✅ all {len(report.record) - 1} files match their sha256 and size in RECORD" if not bad else
               f"❌ {len(bad)} problem(s): " + "; ".join(f"`{r.path}`: {r.status}" for r in bad))
    wheel_lines = "\n".join(f"{k}: {v}" for k, vs in report.wheel.items() for v in vs)
    licence = report.meta("License-Expression") or ["(none)"]
    return (
        f"### `{report.filename}`\n"
        f"- **Compatibility tags:** {', '.join(f'`{t}`' for t in report.tags)}\n"
        f"- **License-Expression:** `{licence[0]}` · **License-File:** "
        f"{', '.join(f'`{f}`' for f in report.meta('License-File')) or '(none)'}\n"
        f"- **Licence files in the wheel:** {', '.join(f'`{f}`' for f in report.licenses) or '(none)'}\n"
        f"- **RECORD:** {verdict}\n\n"
        f"**WHEEL**\n```\n{wheel_lines}\n```\n\n{tree_markdown(report)}\n"
    )


def metadata_text(report: WheelReport) -> str:
    """METADATA's header lines as they appear in the file (the long description left out)."""
    return "\n".join(f"{k}: {v}" for k, v in report.metadata)


def record_table(report: WheelReport) -> list[list[str]]:
    """RECORD rows for a table: path, hash (shortened), size, status."""
    return [[r.path, (r.hash[:22] + "…") if len(r.hash) > 22 else r.hash, r.size, r.status] for r in report.record]
