"""Optional dependencies: find what is missing without importing it, and say how to install it.

Labs import heavy libraries inside the functions that need them. These helpers let a tab say up
front what is missing (`missing`) and turn a failed import into a message that names the exact
install command (`require`).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType

# Import names whose PyPI distribution is called something else.
DISTRIBUTION_NAMES = {
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "cv2": "opencv-python-headless",
    "tensorflow": "tensorflow-cpu",
}


class MissingDependency(ImportError):
    """An optional dependency is not installed; the message says what to install."""


def install_hint(slug: str | None = None, modules: tuple[str, ...] | list[str] = ()) -> str:
    """Return the command that installs what a lab (or a list of modules) needs.

    Args:
        slug: A lab slug; its requirements file is named in the command.
        modules: Import names; used when no slug is given.

    Returns:
        A copy-pasteable `pip install` command; on a Hugging Face Space (`SPACE_ID` is set), what the
        Space's owner can do instead (its requirements.txt), since visitors have no shell there.
    """
    if os.environ.get("SPACE_ID"):
        return space_hint(slug, modules)
    if slug:
        return f"pip install -c requirements/constraints.txt -r requirements/{slug}.txt"
    names = " ".join(DISTRIBUTION_NAMES.get(m, m) for m in modules)
    return f"pip install {names}"


def space_hint(slug: str | None = None, modules: tuple[str, ...] | list[str] = ()) -> str:
    """What a Space's owner does about a missing package: add it to the Space's requirements.txt."""
    if not modules and slug:
        try:
            from labs import get

            modules = get(slug).needs
        except (ImportError, KeyError):
            modules = ()
    names = ", ".join(DISTRIBUTION_NAMES.get(m, m) for m in modules) or "the missing package"
    return (f"add {names} to this Space's requirements.txt (Files tab; not your Space? Duplicate this "
            "Space first), and it rebuilds by itself")


def missing(modules: tuple[str, ...] | list[str]) -> list[str]:
    """Return the import names in `modules` that cannot be found, without importing them."""
    absent = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            absent.append(name)
    return absent


def require(module: str, *, slug: str | None = None, purpose: str = "") -> ModuleType:
    """Import `module` or raise `MissingDependency` with an install command.

    Args:
        module: The import name, e.g. ``"trimesh"``.
        slug: The lab asking, so the hint names its requirements file.
        purpose: What the module is needed for, shown in the message.

    Raises:
        MissingDependency: If the import fails.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        why = f" (needed for {purpose})" if purpose else ""
        raise MissingDependency(
            f"The optional package '{DISTRIBUTION_NAMES.get(module, module)}' is not installed{why}. "
            f"{'To fix it' if os.environ.get('SPACE_ID') else 'Install it with'}: {install_hint(slug, [module])}"
        ) from exc
