"""Export one lab as a self-contained Hugging Face Space, and optionally push it.

    python spaces/export.py png_to_glb --out /tmp/png_to_glb-space
    python spaces/export.py png_to_glb --out /tmp/png_to_glb-space --push you/png-to-glb

The Space folder holds `app.py` at its root, `labs/<slug>/`, the registry `labs/__init__.py`,
`shared/`, a flat `requirements.txt` (the base plus the lab's own requirements) and a `README.md`
whose YAML front matter Hugging Face reads (sdk, sdk_version = the pinned gradio, hardware...).

This folder is deliberately not a Python package: Hugging Face's ZeroGPU package is imported as
`spaces`, and a local `spaces/__init__.py` would shadow it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labs import Lab, get  # noqa: E402  (needs ROOT on the path first)

PYTHON_VERSION = "3.11"  # what the suite is tested on
LICENSE = "apache-2.0"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")

APP_TEMPLATE = '''"""Hugging Face Space entry point for lab {number}, {title} (written by spaces/export.py)."""

from labs.{slug}.app import demo
from shared.ui import serve

if __name__ == "__main__":
    serve(demo)
'''


def read_requirements(path: Path) -> list[str]:
    """Requirement lines of a requirements file, without comments, blanks or option lines."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.append(line)
    return lines


def flat_requirements(lab: Lab, root: Path = ROOT) -> list[str]:
    """The base requirements followed by the lab's own, each package once."""
    seen: set[str] = set()
    merged = []
    for line in read_requirements(root / "requirements" / "base.txt") + read_requirements(root / lab.requirements_file):
        name = re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0].lower().replace("_", "-")
        if name not in seen:
            seen.add(name)
            merged.append(line)
    return merged


def gradio_version(root: Path = ROOT) -> str:
    """The exact gradio version pinned in requirements/base.txt (the Space's sdk_version)."""
    for line in read_requirements(root / "requirements" / "base.txt"):
        match = re.fullmatch(r"gradio==(\d+\.\d+\.\d+)", line)
        if match:
            return match.group(1)
    raise SystemExit("requirements/base.txt must pin gradio exactly (gradio==X.Y.Z)")


def front_matter(lab: Lab, root: Path = ROOT) -> str:
    """The Space README's YAML front matter."""
    fields = {
        "title": lab.title,
        "emoji": lab.emoji,
        "colorFrom": lab.color_from,
        "colorTo": lab.color_to,
        "sdk": "gradio",
        "sdk_version": gradio_version(root),
        "app_file": "app.py",
        "python_version": PYTHON_VERSION,
        "license": LICENSE,
        "short_description": lab.summary[:60],
    }
    if lab.hardware:
        fields["suggested_hardware"] = lab.hardware
    # JSON strings are valid YAML scalars: titles with ": " or "#" stay one value.
    body = "\n".join(f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items())
    return f"---\n{body}\n---\n"


def check_out(out: Path, root: Path = ROOT) -> None:
    """Refuse an output folder the export would damage: a file, the repository itself (its `labs/`
    and `shared/` would be deleted), or a non-empty folder that no earlier export wrote."""
    target, source = out.resolve(), root.resolve()
    if target.exists() and not target.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder; choose a new or empty folder.")
    if target == source or any(target.is_relative_to(source / part) for part in ("labs", "shared")):
        raise ValueError(f"--out {out} is inside the repository's own sources; choose a folder outside them.")
    if target.is_dir() and any(target.iterdir()):
        app = target / "app.py"
        if not (app.is_file() and "(written by spaces/export.py)" in app.read_text(encoding="utf-8", errors="replace")):
            raise ValueError(f"--out {out} is not empty and was not written by this export; "
                             "choose a new or empty folder.")


def export(slug: str, out: Path, root: Path = ROOT) -> Path:
    """Write the Space for lab `slug` into `out` (replacing what the export wrote there before).

    Returns:
        The output folder.

    Raises:
        KeyError: If the slug is not registered.
        ValueError: If `out` is a file, the repository's own sources, or a folder with other
            content (the export replaces `labs/` and `shared/` inside it).
    """
    lab = get(slug)
    out = Path(out)
    check_out(out, root)
    for part in ("labs", "shared"):
        shutil.rmtree(out / part, ignore_errors=True)
    (out / "labs").mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "labs" / "__init__.py", out / "labs" / "__init__.py")
    shutil.copytree(root / "labs" / slug, out / "labs" / slug, ignore=IGNORE)
    shutil.copytree(root / "shared", out / "shared", ignore=IGNORE)
    (out / "app.py").write_text(APP_TEMPLATE.format(number=lab.number, title=lab.title, slug=slug), encoding="utf-8")
    (out / "requirements.txt").write_text("\n".join(flat_requirements(lab, root)) + "\n", encoding="utf-8")
    lab_readme = root / "labs" / slug / "README.md"
    body = lab_readme.read_text(encoding="utf-8") if lab_readme.exists() else f"# {lab.title}\n\n{lab.summary}.\n"
    (out / "README.md").write_text(front_matter(lab, root) + "\n" + body, encoding="utf-8")
    return out


def push(folder: Path, repo_id: str, *, token: str | None = None) -> str:
    """Create (or reuse) the Space `repo_id` and upload `folder` to it. Returns the Space URL.

    The token comes from `token`, else `HF_TOKEN`, else the saved `hf auth login`; it is never
    printed.
    """
    from huggingface_hub import HfApi, get_token

    token = token or get_token()
    if not token:
        raise SystemExit("No Hugging Face token: set HF_TOKEN or run `hf auth login`, then try again.")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="space",
                      commit_message="Update from ml-engineering-labs export",
                      ignore_patterns=["__pycache__/*", "*.pyc"])
    return f"https://huggingface.co/spaces/{repo_id}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Export one lab as a Hugging Face Space.")
    parser.add_argument("slug", help="the lab to export, e.g. png_to_glb")
    parser.add_argument("--out", required=True, type=Path, help="folder to write the Space into")
    parser.add_argument("--push", metavar="OWNER/NAME", help="also create/update this Space on the hub")
    args = parser.parse_args(argv)
    try:
        folder = export(args.slug, args.out)
    except KeyError as exc:
        raise SystemExit(exc.args[0]) from None
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    except OSError as exc:  # no permission, a read-only disk, a path through a file
        raise SystemExit(f"Could not write the Space to {args.out}: {exc.strerror or exc}") from None
    print(f"Wrote the Space for {args.slug} to {folder}")
    if args.push:
        try:
            url = push(folder, args.push)
        except SystemExit:
            raise
        except Exception as exc:  # network, permissions, a bad repo id: one clear line, no traceback
            from huggingface_hub import get_token

            message = f"{type(exc).__name__}: {exc}"
            token = get_token()
            if token:
                message = message.replace(token, "***")
            raise SystemExit(f"Could not push to the Space {args.push}: {message}\n"
                             "Check your network, the Space name (OWNER/NAME) and that your token may write to it.") from None
        print(f"Pushed: {url}")


if __name__ == "__main__":
    main()
