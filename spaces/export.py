"""Export labs as self-contained Hugging Face Spaces, and optionally push them.

    python spaces/export.py png_to_glb --out /tmp/png_to_glb-space
    python spaces/export.py png_to_glb --out /tmp/png_to_glb-space --push you/png-to-glb
    python spaces/export.py --all --push you --dry-run      # the workshop: what would be pushed where
    python spaces/export.py --all --push you [--private]    # push every lab as you/<slug>

A Space folder holds `app.py` at its root, `labs/<slug>/`, the registry `labs/__init__.py`,
`shared/`, and:

- `requirements.txt`: the lab's lock (requirements/locks/<slug>.txt, written by spaces/lock.py):
  exact versions for the whole dependency closure, the ones the suite's tests ran. CPU labs get
  torch's CPU build from PyTorch's CPU index; the ZeroGPU lab PyTorch's CUDA build from PyPI.
- `packages.txt`: the Debian packages the registry lists for the lab (`Lab.apt`), if any.
- `Dockerfile` instead, for a lab that runs npm packages (`Lab.node`, e.g. Azurite), which a Gradio
  Space cannot install: a Docker Space with a non-root user (uid 1000) on port 7860.
- `README.md`: the Space card, written for the Space's visitors and owners, with the YAML front
  matter Hugging Face reads (sdk, sdk_version = the pinned gradio, python_version, hardware, tags,
  preload_from_hub...).

This folder is deliberately not a Python package: Hugging Face's ZeroGPU package is imported as
`spaces`, and a local `spaces/__init__.py` would shadow it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labs import LABS, Lab, get  # noqa: E402  (needs ROOT on the path first)


def _load_lock_module():
    # spaces/ is not a package (see above): load lock.py beside this file by path.
    spec = importlib.util.spec_from_file_location("ml_labs_space_lock", Path(__file__).with_name("lock.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


lock = _load_lock_module()

PYTHON_VERSION = lock.PYTHON  # what the suite is tested on (a ZeroGPU lab: lock.ZEROGPU_PYTHON)
LICENSE = "apache-2.0"
PORT = 7860
SUITE_NAME = "ml-engineering-labs"
SUITE_URL_ENV = "ML_LABS_SUITE_URL"  # where the suite's source lives, for the cards' link back
BASE_IMAGE = "python:3.11-slim-bookworm"  # Debian 12, the release the build check reads package names from
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
CPU_HARDWARE = "cpu-basic"
ZEROGPU_MAX_S = 60  # the longest GPU call a ZeroGPU lab asks for (labs/cuda_benchmark/suite.py)

APP_TEMPLATE = '''"""Hugging Face Space entry point for lab {number}, {title} (written by spaces/export.py)."""

from labs.{slug}.app import demo
from shared.ui import serve

if __name__ == "__main__":
    serve(demo)
'''


# ------------------------------------------------------------------------------------ requirements


def read_requirements(path: Path) -> list[str]:
    """Requirement lines of a requirements file, without comments, blanks or option lines."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.append(line)
    return lines


def flat_requirements(lab: Lab, root: Path = ROOT) -> list[str]:
    """The base requirements followed by the lab's own, each package once (the ranges the lock satisfies)."""
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


def is_docker(lab: Lab) -> bool:
    """Whether the lab needs a Docker Space (npm packages, which packages.txt cannot install)."""
    return bool(lab.node)


def lab_pins(lab: Lab) -> dict[str, str]:
    """The lab's lock: canonical name -> exact version.

    Raises:
        ValueError: If the lock is missing or was resolved from other requirements than today's.
    """
    path = lock.lock_path(lab.slug)
    if not path.exists():
        raise ValueError(f"{path.relative_to(ROOT)} is missing: run `python spaces/lock.py` first.")
    pins, meta = lock.read_lock(path)
    if meta.get("inputs-sha256") != lock.lock_digest(lab):
        raise ValueError(f"{path.relative_to(ROOT)} was resolved from other requirements than today's "
                         "requirements/*.txt: run `python spaces/lock.py`, then export again.")
    return pins


def space_requirements(lab: Lab) -> str:
    """The Space's requirements.txt: the lab's lock, with PyTorch's CPU index for a `+cpu` torch."""
    pins = lab_pins(lab)
    ran = ("the suite's tested versions, except torch: PyTorch's CUDA build here, its CPU build in the tests."
           if lock.is_zerogpu(lab) else "every package and version the suite's tests ran.")
    lines = [
        f"# The {lab.slug} Space's exact environment (written by spaces/export.py from {SUITE_NAME}'s",
        f"# requirements/locks/{lab.slug}.txt): {ran}",
    ]
    if any(version.endswith("+cpu") for version in pins.values()):
        lines += ["# torch's CPU build comes from PyTorch's CPU index (no CUDA libraries on a CPU Space).",
                  f"--extra-index-url {lock.TORCH_CPU_INDEX}"]
    elif lock.is_zerogpu(lab):
        lines.append("# ZeroGPU: PyTorch's CUDA build from PyPI, for Python " + lock.ZEROGPU_PYTHON + ".")
    hashes = lock.read_hashes(lock.lock_path(lab.slug))
    if hashes:
        lines.append("# pip runs in hash-checking mode: a rebuild installs these exact files or stops.")
    for name, version in sorted(pins.items()):
        lines.append(f"{name}=={version}" + "".join(f" \\\n    --hash={h}" for h in hashes.get(name, [])))
    return "\n".join(lines) + "\n"


def packages_txt(lab: Lab) -> str | None:
    """packages.txt (Debian packages, one a line) for a Gradio Space, or None when none are needed."""
    return "\n".join(lab.apt) + "\n" if lab.apt and not is_docker(lab) else None


def dockerfile(lab: Lab) -> str:
    """The Dockerfile of a Docker Space: Debian packages, Node.js and the npm tools, then the lock."""
    apt = sorted({"nodejs", "npm", *lab.apt})
    npm = " ".join(lab.node)
    return f"""# The {lab.slug} Space (written by spaces/export.py). A Docker Space, because the lab runs npm
# packages ({npm}) that a Gradio Space's packages.txt cannot install.
FROM {BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \\
    PIP_NO_CACHE_DIR=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    GRADIO_SERVER_NAME=0.0.0.0 \\
    GRADIO_SERVER_PORT={PORT} \\
    GRADIO_ANALYTICS_ENABLED=False

# Debian's packages follow the base image's release; the Python and npm versions are pinned below.
# hadolint ignore=DL3008
RUN apt-get update \\
 && apt-get install -y --no-install-recommends {" ".join(apt)} \\
 && rm -rf /var/lib/apt/lists/*

RUN npm install --global --no-audit --no-fund {npm} \\
 && npm cache clean --force

# Spaces run the container as uid 1000.
RUN useradd --create-home --uid 1000 user
USER 1000
ENV HOME=/home/user \\
    PATH=/home/user/venv/bin:$PATH
WORKDIR /home/user/app

COPY --chown=1000 requirements.txt .
RUN python -m venv /home/user/venv \\
 && pip install --no-cache-dir -r requirements.txt

COPY --chown=1000 . .

EXPOSE {PORT}
CMD ["python", "app.py"]
"""


# ------------------------------------------------------------------------------------ the card


def space_name(lab: Lab) -> str:
    """The Space's name under its owner: the slug with dashes (png_to_glb -> png-to-glb)."""
    return lab.slug.replace("_", "-")


def hardware(lab: Lab) -> str:
    """The hardware the Space should run on (`suggested_hardware`)."""
    return lab.hardware or CPU_HARDWARE


def front_matter(lab: Lab, root: Path = ROOT) -> str:
    """The Space README's YAML front matter."""
    fields: dict[str, object] = {
        "title": lab.title,
        "emoji": lab.emoji,
        "colorFrom": lab.color_from,
        "colorTo": lab.color_to,
    }
    if is_docker(lab):
        fields.update(sdk="docker", app_port=PORT)
    else:
        fields.update(sdk="gradio", sdk_version=gradio_version(root), app_file="app.py",
                      python_version=lock.python_for(lab))
    fields.update(license=LICENSE, short_description=lab.summary[:60], suggested_hardware=hardware(lab),
                  tags=[SUITE_NAME, "workshop", *lab.tags])
    if lab.preload:
        fields["preload_from_hub"] = list(lab.preload)
        fields["models"] = [item.split()[0] for item in lab.preload]
    # JSON strings and arrays are valid YAML: titles with ": " or "#" stay one value.
    body = "\n".join(f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items())
    return f"---\n{body}\n---\n"


def space_card(lab: Lab, *, owner: str | None = None, suite_url: str | None = None,
               workshop: tuple[Lab, ...] = ()) -> str:
    """The Space card's Markdown body: for visitors (what it does, how to use it) and owners."""
    suite_url = suite_url or os.environ.get(SUITE_URL_ENV) or None
    suite = f"[{SUITE_NAME}]({suite_url})" if suite_url else f"**{SUITE_NAME}**"
    learn = "\n".join(f"- {item}" for item in lab.learn)
    out = [
        f"# {lab.emoji} {lab.title}",
        "",
        f"{lab.summary}. Lab {lab.number} of the {suite} workshop (about {lab.minutes} minutes), "
        "running here on its own.",
        "",
        "## What you will learn",
        "",
        learn,
        "",
        "## Use it in your browser",
        "",
        "1. Open the **App** tab (above) and click the first example: a result appears within seconds.",
        "2. Change one setting at a time and run again; the **Show the code** panel shows the real "
        "functions that just ran.",
        "3. Files the lab writes (models, meshes, configs...) can be downloaded from its outputs.",
        "",
        "This Space is shared by everyone who opens it, so it runs in **shared mode**: it uses only what "
        "you type or upload (never the Space's own keys or files), and every request has a time and "
        "memory budget.",
        "",
    ]
    if lock.is_zerogpu(lab):
        out += [
            "**ZeroGPU.** Each run borrows a GPU for the time it needs, at most "
            f"{ZEROGPU_MAX_S} s, counted against your daily ZeroGPU quota (signed-in users get more). "
            "A run planned to take longer is refused before it starts: pick fewer sizes or repeats.",
            "",
        ]
    if lab.preload:
        out += ["The default models (" + ", ".join(f"`{m.split()[0]}`" for m in lab.preload)
                + ") were downloaded when the Space was built, so the first click does not wait for them.", ""]
    out += [
        "## Your own copy (workshop participants)",
        "",
        "Click **⋮ → Duplicate this Space** (top right) to get a copy of your own: nobody else's runs "
        "queue with yours, and you choose its hardware in **Settings**"
        + (f" (it was made for `{hardware(lab)}`)" if lab.hardware else " (free CPU is enough)") + ".",
    ]
    if lab.secrets:
        out += ["On a copy you own you may also set, in **Settings → Variables and secrets** (optional; "
                "the lab runs without them): " + ", ".join(f"`{s}`" for s in lab.secrets) + "."]
    out += [
        "",
        "## What this Space installs",
        "",
        "- `requirements.txt`: exact versions of every package, the ones the suite's tests ran "
        + ("(torch as PyTorch's CUDA build for ZeroGPU, Python " + lock.ZEROGPU_PYTHON + ")."
           if lock.is_zerogpu(lab) else "(PyTorch's CPU build)."),
    ]
    if is_docker(lab):
        out.append(f"- `Dockerfile`: Debian packages, Node.js and {', '.join(f'`{n}`' for n in lab.node)} "
                   "(npm), then the requirements; the app runs as uid 1000 on port 7860.")
    elif lab.apt:
        out.append(f"- `packages.txt`: Debian packages {', '.join(f'`{p}`' for p in lab.apt)}.")
    out += [
        f"- `labs/{lab.slug}/README.md`: the lab's own guide (how it works, things to try, running it on "
        "your machine with the whole suite).",
        "",
    ]
    others = [other for other in workshop if other.slug != lab.slug]
    if owner and others:
        out += ["## The other labs of this workshop", ""]
        out += [f"- {o.emoji} [{o.title}](https://huggingface.co/spaces/{owner}/{space_name(o)})" for o in others]
        out.append("")
    if suite_url:
        out += [f"Source, tests and the other labs: {suite_url}", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------ export


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


def export(slug: str, out: Path, root: Path = ROOT, *, owner: str | None = None, suite_url: str | None = None,
           workshop: tuple[Lab, ...] = ()) -> Path:
    """Write the Space for lab `slug` into `out` (replacing what the export wrote there before).

    Returns:
        The output folder.

    Raises:
        KeyError: If the slug is not registered.
        ValueError: If `out` is a file, the repository's own sources, or a folder with other
            content (the export replaces `labs/` and `shared/` inside it); or if the lab's lock is
            missing or stale.
    """
    lab = get(slug)
    out = Path(out)
    check_out(out, root)
    requirements = space_requirements(lab)  # before touching `out`: a stale lock writes nothing
    for part in ("labs", "shared"):
        shutil.rmtree(out / part, ignore_errors=True)
    for stale in ("packages.txt", "Dockerfile"):
        (out / stale).unlink(missing_ok=True)
    (out / "labs").mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "labs" / "__init__.py", out / "labs" / "__init__.py")
    shutil.copytree(root / "labs" / slug, out / "labs" / slug, ignore=IGNORE)
    shutil.copytree(root / "shared", out / "shared", ignore=IGNORE)
    (out / "app.py").write_text(APP_TEMPLATE.format(number=lab.number, title=lab.title, slug=slug), encoding="utf-8")
    (out / "requirements.txt").write_text(requirements, encoding="utf-8")
    if (packages := packages_txt(lab)) is not None:
        (out / "packages.txt").write_text(packages, encoding="utf-8")
    if is_docker(lab):
        (out / "Dockerfile").write_text(dockerfile(lab), encoding="utf-8")
    card = space_card(lab, owner=owner, suite_url=suite_url, workshop=workshop)
    (out / "README.md").write_text(front_matter(lab, root) + "\n" + card, encoding="utf-8")
    return out


# ------------------------------------------------------------------------------------ push


def push(folder: Path, repo_id: str, *, token: str | None = None, private: bool = False,
         sdk: str = "gradio") -> str:
    """Create (or reuse) the Space `repo_id` and upload `folder` to it. Returns the Space URL.

    The token comes from `token`, else `HF_TOKEN`, else the saved `hf auth login`; it is never
    printed.
    """
    from huggingface_hub import HfApi, get_token

    token = token or get_token()
    if not token:
        raise SystemExit("No Hugging Face token: set HF_TOKEN or run `hf auth login`, then try again.")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="space", space_sdk=sdk, private=private, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="space",
                      commit_message="Update from ml-engineering-labs export",
                      ignore_patterns=["__pycache__/*", "*.pyc"])
    return f"https://huggingface.co/spaces/{repo_id}"


def plan_row(lab: Lab, repo_id: str | None) -> dict[str, str]:
    """What a push of `lab` creates and needs, for the workshop table."""
    needs = []
    if lab.apt:
        needs.append("apt: " + " ".join(lab.apt))
    if lab.node:
        needs.append("npm: " + " ".join(lab.node))
    if lab.preload:
        needs.append(f"preloads {len(lab.preload)} hub model{'s' * (len(lab.preload) > 1)}")
    hw = hardware(lab)
    if lab.hardware:
        hw += " *"
    return {
        "lab": lab.slug,
        "space": f"https://huggingface.co/spaces/{repo_id}" if repo_id else "(export only)",
        "sdk": "docker" if is_docker(lab) else "gradio",
        "hardware": hw,
        "secrets": ", ".join(lab.secrets) + " (optional)" if lab.secrets else "none",
        "needs": "; ".join(needs) or "-",
    }


def format_table(rows: list[dict[str, str]]) -> str:
    """A plain-text table of plan rows (one line a Space)."""
    if not rows:
        return ""
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys}
    line = lambda r: "  ".join(str(r[k]).ljust(widths[k]) for k in keys).rstrip()  # noqa: E731
    return "\n".join([line({k: k.upper() for k in keys}), line({k: "-" * widths[k] for k in keys}),
                      *(line(r) for r in rows)])


def _repo_for(lab: Lab, target: str | None, many: bool) -> str | None:
    """OWNER/NAME for a lab: `target` itself for one lab named OWNER/NAME, else OWNER/<slug-with-dashes>."""
    if not target:
        return None
    if "/" in target:
        if many:
            raise SystemExit(f"--push {target}: with several labs give only the owner (e.g. --push "
                             f"{target.split('/')[0]}); each Space is named after its lab.")
        return target
    return f"{target}/{space_name(lab)}"


def _safe(message: str) -> str:
    """`message` with any Hugging Face token in it masked."""
    try:
        from huggingface_hub import get_token

        token = get_token()
    except Exception:
        token = None
    for secret in {token, os.environ.get("HF_TOKEN")}:
        if secret:
            message = message.replace(secret, "***")
    return re.sub(r"hf_[A-Za-z0-9]{20,}", "hf_***", message)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Export labs as Hugging Face Spaces (and push them).")
    parser.add_argument("slugs", nargs="*", metavar="SLUG", help="the labs to export, e.g. png_to_glb")
    parser.add_argument("--all", action="store_true", help="every registered lab (a whole workshop)")
    parser.add_argument("--out", type=Path, help="folder to write the Space into (with several labs: one "
                        "subfolder per lab); default: a temporary folder")
    parser.add_argument("--push", metavar="OWNER[/NAME]", help="also create/update the Spaces: OWNER/<lab-name> "
                        "for each lab, or OWNER/NAME for a single lab")
    parser.add_argument("--private", action="store_true", help="create the Spaces as private")
    parser.add_argument("--dry-run", action="store_true", help="export and print what would be pushed; "
                        "push nothing (no token needed)")
    parser.add_argument("--suite-url", default=os.environ.get(SUITE_URL_ENV),
                        help=f"link back to the suite's source on each card (default: ${SUITE_URL_ENV})")
    args = parser.parse_args(argv)
    try:
        chosen = list(LABS) if args.all else [get(slug) for slug in args.slugs]
    except KeyError as exc:
        raise SystemExit(exc.args[0]) from None
    if not chosen:
        parser.error("name at least one lab (e.g. png_to_glb), or --all")
    many = len(chosen) > 1
    owner = args.push.split("/")[0] if args.push else None
    repos = {lab.slug: _repo_for(lab, args.push, many) for lab in chosen}
    out = args.out or Path(tempfile.mkdtemp(prefix="ml-labs-spaces-"))
    folders = {}
    for lab in chosen:
        folder = out / lab.slug if many else out
        try:
            folders[lab.slug] = export(lab.slug, folder, owner=owner, suite_url=args.suite_url,
                                       workshop=tuple(chosen) if many else ())
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        except OSError as exc:  # no permission, a read-only disk, a path through a file
            raise SystemExit(f"Could not write the Space to {folder}: {exc.strerror or exc}") from None
        print(f"Wrote the Space for {lab.slug} to {folders[lab.slug]}")
    rows = [plan_row(lab, repos[lab.slug]) for lab in chosen]
    if args.dry_run or (many and args.push):
        print()
        print(format_table(rows))
        if any(lab.hardware for lab in chosen):
            print("* A new Space runs on the free CPU (cpu-basic) until its owner picks this hardware in "
                  "Settings → Hardware.")
        print()
    if args.dry_run:
        if args.push:
            print(f"Dry run: nothing pushed. Without --dry-run this creates or updates {len(chosen)} "
                  f"{'private' if args.private else 'public'} Space(s) under {owner}.")
        return
    if not args.push:
        return
    for lab in chosen:
        repo_id = repos[lab.slug]
        try:
            url = push(folders[lab.slug], repo_id, private=args.private, sdk="docker" if is_docker(lab) else "gradio")
        except SystemExit:
            raise
        except Exception as exc:  # network, permissions, a bad repo id: one clear line, no traceback
            raise SystemExit(_safe(f"Could not push to the Space {repo_id}: {type(exc).__name__}: {exc}") + "\n"
                             "Check your network, the Space name (OWNER/NAME) and that your token may write to it.") from None
        print(f"Pushed: {url}")
        if lab.hardware:
            print(f"   {lab.slug} needs {lab.hardware}: choose it in the Space's Settings → Hardware "
                  "(a new Space runs on the free CPU until you do).")


if __name__ == "__main__":
    main()
