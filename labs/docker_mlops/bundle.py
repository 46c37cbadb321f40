"""Write a generated bundle to disk: the text files, the model's weights, and (for a lab of the suite)
its Gradio Space export, plus a zip of it all.

- `build_bundle`: render every file for the settings (`templates.generate_files`), add the weights
  (`weight_files`) and write the folder and the zip (`write_bundle`).
- `export_lab`: a lab of the suite as a Gradio Space, by running `python spaces/export.py` (a
  subprocess: labs never import `spaces/`, which is deliberately not a package).
- `pin_requirements`: a Docker image should rebuild the same tomorrow, so ranges become `==` pins.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable

from labs.docker_mlops.replica import WEIGHTS_NAME
from labs.docker_mlops.settings import BuildSettings
from labs.docker_mlops.templates import generate_files

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
EXPORT_SCRIPT = REPO_ROOT / "spaces" / "export.py"


def weight_files(s: BuildSettings) -> dict[str, bytes]:
    """The binary files of the bundle: the model's weights wherever a target loads them."""
    from labs.docker_mlops.model import trained

    weights = trained().weights
    where = ["docker-space", "replicate"] if s.is_small_app else ["replicate"]
    return {f"{folder}/{WEIGHTS_NAME}": weights for folder in where}


def can_export() -> tuple[bool, str]:
    """Whether the suite's `spaces/export.py` is here (a checkout of the repository, not a Space)."""
    if EXPORT_SCRIPT.is_file():
        return True, f"uses {EXPORT_SCRIPT.relative_to(REPO_ROOT)} from this checkout"
    return False, ("spaces/export.py is not here (this copy of the lab is itself an exported Space): "
                   "run the lab from a checkout of the repository to export other labs")


def export_lab(slug: str, out: Path, timeout: int = 120) -> Path:
    """Export a lab of the suite as a Gradio Space by running `python spaces/export.py` (a subprocess:
    labs never import `spaces/`, which is deliberately not a package).

    Raises:
        ValueError: When the repository layout is absent or the export fails (with its output).
    """
    ok, why = can_export()
    if not ok:
        raise ValueError(f"Cannot export lab {slug!r}: {why}. Pick the small app instead.")
    proc = subprocess.run([sys.executable, str(EXPORT_SCRIPT), slug, "--out", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise ValueError(f"spaces/export.py failed for {slug!r}: {(proc.stderr or proc.stdout).strip()[-800:]}")
    return Path(out)


def pin_requirements(text: str, *, version_of: Callable[[str], str] | None = None) -> str:
    """Pin each requirement to the version installed in this Python environment (`name==X.Y.Z`).

    A Docker image should rebuild the same tomorrow: ranges (`torch>=2.3`) would pick whatever is
    newest at build time. Requirements that are not installed here, or whose installed version is
    outside the range, keep their range and say why in a comment.

    Args:
        text: A requirements.txt (one requirement a line; comments and options are kept as they are).
        version_of: Looks up an installed version by distribution name (`importlib.metadata.version`).
    """
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    version_of = version_of or metadata.version
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    out = [f"# Pinned from the Python {py} environment that generated this file (importlib.metadata versions);",
           "# the ranges they satisfy are in the suite's requirements/ files. Regenerate to update them."]
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            out.append(raw)
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            out.append(raw)
            continue
        try:
            version = Version(version_of(req.name)).public  # drop local labels such as +cpu
        except (metadata.PackageNotFoundError, InvalidVersion):
            out.append(f"{line}  # not installed where this file was generated: range kept")
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            out.append(f"{line}  # installed {version} is outside this range: range kept")
            continue
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f"; {req.marker}" if req.marker else ""
        out.append(f"{req.name}{extras}=={version}{marker}")
    return "\n".join(out) + "\n"


def write_bundle(files: dict[str, str], dest: Path, *, lab_slug: str | None = None,
                 blobs: dict[str, bytes] | None = None) -> Path:
    """Write the bundle into `dest` (and, for a lab, its Gradio Space export); return a zip of it.

    For a lab, `gradio-space/` is the suite's export and `docker-space/` is that same export with
    the Dockerfile and a Docker-Space README on top, and its requirements.txt pinned to the
    versions installed here (`pin_requirements`).
    """
    dest = Path(dest)
    if lab_slug:
        export_lab(lab_slug, dest / "gradio-space")
        shutil.copytree(dest / "gradio-space", dest / "docker-space", dirs_exist_ok=True)
        requirements = dest / "docker-space" / "requirements.txt"
        requirements.write_text(pin_requirements(requirements.read_text(encoding="utf-8")), encoding="utf-8")
    for rel, text in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for rel, data in (blobs or {}).items():  # the model's weights (binary)
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    zip_path = dest.parent / f"{dest.name}.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(dest.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(dest).as_posix())
    zip_path.write_bytes(buffer.getvalue())
    return zip_path


def lab_needs_torch(slug: str) -> bool:
    """True if a lab's requirements (read from this checkout) include torch."""
    path = REPO_ROOT / "requirements" / f"{slug}.txt"
    if not path.is_file():
        return False
    return any(line.split("#")[0].strip().lower().startswith("torch") and
               not line.strip().lower().startswith(("torchvision", "torchaudio", "torch-", "torch_"))
               for line in path.read_text(encoding="utf-8").splitlines())


def build_bundle(s: BuildSettings, dest: Path, lab=None) -> tuple[dict[str, str], Path]:
    """Render every file for `s` and write the bundle (with the lab's Gradio export when `lab` is given).

    Args:
        s: The settings.
        dest: A folder to write into (created).
        lab: The registry entry of the chosen lab (`labs.Lab`), or None for the small app.

    Returns:
        The text files (paths inside the bundle) and the zip of the whole bundle.
    """
    if lab is None:
        files = generate_files(s, title=s.name, summary="A tiny model server, one of N replicas")
    else:
        files = generate_files(s, title=lab.title, emoji=lab.emoji, summary=lab.summary,
                               needs_torch_cpu=lab_needs_torch(lab.slug))
    zip_path = write_bundle(files, Path(dest) / s.name, lab_slug=None if lab is None else lab.slug,
                            blobs=weight_files(s))
    return files, zip_path
