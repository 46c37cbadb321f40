"""Check what the user types before anything touches the disk: project name, version, author.

- Project names follow PEP 508 (letters, digits, ``.``, ``_``, ``-``; start and end with a letter
  or digit) and are compared in the PEP 503 normalised form (``My.Pkg`` == ``my-pkg``).
- The import name is the normalised name with ``_`` (it must also be a Python identifier).
- Versions follow PEP 440 (``1.0``, ``0.3.1rc1``, ``2.0.post1``...), checked by `packaging`.
- Every path built from user input is checked to stay inside the request's work folder.
"""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass
from pathlib import Path

NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)  # PEP 508
MAX_NAME = 64  # PyPI has no hard limit, but long names are painful to type and to import
MAX_VERSION = 40
MAX_HOLDER = 100
LICENSES = ("MIT", "Apache-2.0")  # SPDX identifiers, as written into License-Expression


class PackagingInputError(ValueError):
    """A name, version or other field breaks a packaging rule; the message says which and how to fix it."""


@dataclass(frozen=True)
class ProjectSpec:
    """Validated inputs for one generated project.

    Attributes:
        name: The project name as typed (PEP 508 valid), shown on PyPI.
        normalized: PEP 503 normalised name (``my-pkg``): the wheel and sdist file-name root.
        import_name: The Python package name (``my_pkg``).
        version: PEP 440 version in its normalised form.
        license: ``"MIT"`` or ``"Apache-2.0"``.
        holder: Copyright holder written into LICENSE/NOTICE and the author field.
        model: Key of `tinymodels.MODELS`.
    """

    name: str
    normalized: str
    import_name: str
    version: str
    license: str
    holder: str
    model: str

    @property
    def script(self) -> str:
        """The console script's name."""
        return f"{self.normalized}-predict"


def normalize(name: str) -> str:
    """PEP 503 normalisation: lower case, runs of ``-_.`` become one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def validate_name(name: str | None) -> tuple[str, str, str]:
    """Check a project name; returns ``(name, normalized, import_name)``.

    Raises:
        PackagingInputError: Naming the rule that is broken and what to type instead.
    """
    name = (name or "").strip()
    if not name:
        raise PackagingInputError("The package name is empty. Type one, e.g. 'tiny-moons'.")
    if "/" in name or "\\" in name or ".." in name or name.startswith("~"):
        raise PackagingInputError(
            f"The package name {name!r} looks like a path and would escape the work folder. "
            "A package name is a single word such as 'tiny-moons' (letters, digits, '-', '_', '.').")
    if len(name) > MAX_NAME:
        raise PackagingInputError(f"The package name is {len(name)} characters long; keep it to {MAX_NAME} or fewer.")
    if not NAME_RE.match(name):
        bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "._-"))})
        if bad:
            rule = f"it contains {', '.join(repr(c) for c in bad)}; only ASCII letters, digits, '.', '_' and '-' are allowed"
        else:
            rule = "it must start and end with a letter or digit"
        raise PackagingInputError(f"{name!r} is not a valid package name (PEP 508: {rule}). Try e.g. 'tiny-moons'.")
    normalized = normalize(name)
    import_name = normalized.replace("-", "_")
    if not import_name.isidentifier() or keyword.iskeyword(import_name):
        raise PackagingInputError(
            f"{name!r} is a valid PyPI name, but its import name {import_name!r} is not a Python identifier "
            "(it starts with a digit or is a keyword). Start the name with a letter, e.g. 'tiny-" f"{normalized}'.")
    if import_name in sys.stdlib_module_names or import_name in {"test", "tests", "src", "setup"}:
        raise PackagingInputError(
            f"The import name {import_name!r} would shadow the standard library or a project folder. "
            f"Pick a more specific name, e.g. '{normalized}-model'.")
    return name, normalized, import_name


def validate_version(version: str | None) -> str:
    """Check a PEP 440 version; returns its normalised form (``1.0.0-alpha`` -> ``1.0.0a0``).

    Raises:
        PackagingInputError: If it is empty, too long or not PEP 440.
    """
    from packaging.version import InvalidVersion, Version

    version = (version or "").strip()
    if not version:
        raise PackagingInputError("The version is empty. Type one, e.g. '0.1.0'.")
    if len(version) > MAX_VERSION:
        raise PackagingInputError(f"The version is {len(version)} characters long; keep it to {MAX_VERSION} or fewer.")
    try:
        parsed = Version(version)
    except InvalidVersion:
        raise PackagingInputError(
            f"{version!r} is not a PEP 440 version. Versions look like '1.2.3', '0.1.0rc1', '2.0.post1' or "
            "'1.0.dev3' (numbers separated by dots, then optional a/b/rc, .post or .dev parts).") from None
    if parsed.local:
        raise PackagingInputError(
            f"{version!r} has a local part ('+{parsed.local}'); PyPI rejects local versions. Drop the '+...' part.")
    return str(parsed)


def validate_holder(holder: str | None) -> str:
    """Check the copyright holder (one printable line).

    Raises:
        PackagingInputError: If empty, too long or containing control characters.
    """
    holder = (holder or "").strip()
    if not holder:
        raise PackagingInputError("The copyright holder is empty. Type your name or your organisation's.")
    if len(holder) > MAX_HOLDER:
        raise PackagingInputError(f"The copyright holder is {len(holder)} characters; keep it to {MAX_HOLDER}.")
    if any(not c.isprintable() for c in holder):
        raise PackagingInputError("The copyright holder must be one line of printable text (no tabs or newlines).")
    return holder


def validate_spec(name: str | None, version: str | None, license: str | None, holder: str | None,
                  model: str | None) -> ProjectSpec:
    """Validate every field and return a `ProjectSpec`.

    Raises:
        PackagingInputError: For the first field that breaks a rule.
    """
    from labs.wheel_packaging.tinymodels import MODELS

    name, normalized, import_name = validate_name(name)
    if license not in LICENSES:
        raise PackagingInputError(f"Unknown licence {license!r}. Pick one of: {', '.join(LICENSES)}.")
    if model not in MODELS:
        raise PackagingInputError(f"Unknown model {model!r}. Pick one of: {', '.join(MODELS)}.")
    return ProjectSpec(name, normalized, import_name, validate_version(version), license,
                       validate_holder(holder), model)


def inside(root: Path, *parts: str) -> Path:
    """Join `parts` under `root` and refuse any result that resolves outside `root`.

    Raises:
        PackagingInputError: If the path would escape (``..``, absolute parts, symlinks out).
    """
    root = root.resolve()
    path = root.joinpath(*parts).resolve()
    if path != root and root not in path.parents:
        raise PackagingInputError(f"The path {'/'.join(parts)!r} would escape the work folder; refusing to write it.")
    return path
