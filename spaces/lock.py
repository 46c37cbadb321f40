"""Write the suite's lock files: exact versions for the whole dependency closure, resolved by pip.

    python spaces/lock.py                 # regenerate every lock, keeping the locked versions that still fit
    python spaces/lock.py --from-env      # lock what this environment has installed (what the tests ran)
    python spaces/lock.py --upgrade       # newest versions the requirements allow
    python spaces/lock.py --check         # resolve again into a temporary folder and diff (exit 1 on drift)
    python spaces/lock.py --verify-hashes # the labs' locked sha256s against PyPI's own files (network)

Files (all under requirements/locks/):

- `suite.txt`: every lab + dev + the Spaces runtime, as `.ci/setup.sh` installs it (it passes this file
  to pip as a constraint, so what the tests run is what this file says).
- `<slug>.txt`: one per lab: requirements/base.txt + requirements/<slug>.txt + the Spaces runtime,
  resolved with `suite.txt` as a constraint, so every version in it is one the suite's tests ran.
  `spaces/export.py` writes it as the Space's `requirements.txt`.
- `space-runtime.in`: what Hugging Face installs into every Gradio Space besides requirements.txt
  (`gradio[oauth,mcp]`, uvicorn, `spaces`); locked too, so the Space ends up with the tested versions.

CPU labs pin torch's CPU build (`torch==X+cpu`, from PyTorch's CPU index); a ZeroGPU lab
(hardware `zero-*`) is resolved for ZeroGPU's Python with PyTorch's default CUDA build from PyPI.

The resolver is pip's own (`pip install --dry-run --ignore-installed --report`), run with this
interpreter and its pip configuration, with `requirements/constraints.txt`, the same constraints
the tests use. Locks are for CPython on Linux x86_64 (a Space).

This folder is deliberately not a Python package (see export.py); tests load this file by path.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labs import LABS, Lab, get  # noqa: E402  (needs ROOT on the path first)

REQ = ROOT / "requirements"
LOCKS = REQ / "locks"
CONSTRAINTS = REQ / "constraints.txt"
RUNTIME = LOCKS / "space-runtime.in"
SUITE_LOCK = LOCKS / "suite.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The CPython a lab's Space runs: what the suite is tested on, except on ZeroGPU, which offers
# Python 3.10.13 and 3.12.12 only (numpy 2.3+ needs 3.11+, so 3.12).
PYTHON = "3.11"
ZEROGPU_PYTHON = "3.12"
GENERATOR = "spaces/lock.py"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*$")


class LockError(RuntimeError):
    """The resolver could not produce a lock; the message says what failed and what to do."""


# ------------------------------------------------------------------------------------ names, files


def canonical(name: str) -> str:
    """PEP 503 normalised project name: `Jinja2` and `jinja2`, `typing_extensions` and `typing-extensions`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_zerogpu(lab: Lab) -> bool:
    """Whether the lab's Space runs on ZeroGPU (hardware `zero-*`)."""
    return bool(lab.hardware and lab.hardware.startswith("zero"))


def python_for(lab: Lab | None) -> str:
    """The Python version (X.Y) the lab's Space builds with."""
    return ZEROGPU_PYTHON if lab is not None and is_zerogpu(lab) else PYTHON


def lock_path(slug: str | None = None) -> Path:
    """The suite lock (slug None) or one lab's lock."""
    return SUITE_LOCK if slug is None else LOCKS / f"{slug}.txt"


def suite_inputs(root: Path = ROOT) -> list[Path]:
    """Every requirements file the suite installs (base, each lab, dev) and the Spaces runtime."""
    req = root / "requirements"
    files = sorted(p for p in req.glob("*.txt") if p.name not in {"base.txt", "constraints.txt"})
    return [req / "base.txt", *files, root / RUNTIME.relative_to(ROOT)]


def lab_inputs(lab: Lab, root: Path = ROOT) -> list[Path]:
    """What one lab's Space installs: the base, the lab's own requirements and the Spaces runtime."""
    return [root / "requirements" / "base.txt", root / lab.requirements_file, root / RUNTIME.relative_to(ROOT)]


def read_lock(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Parse a lock file.

    Returns:
        (pins, meta): canonical name -> exact version, and the `# key: value` header fields.
    """
    pins, meta, _ = _parse_lock(path)
    return pins, meta


def read_hashes(path: Path) -> dict[str, list[str]]:
    """Canonical name -> the `sha256:...` hashes a lab lock records for it (empty for the suite lock)."""
    return _parse_lock(path)[2]


def _parse_lock(path: Path) -> tuple[dict[str, str], dict[str, str], dict[str, list[str]]]:
    pins: dict[str, str] = {}
    meta: dict[str, str] = {}
    hashes: dict[str, list[str]] = {}
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")  # join `name==1.0 \` continuations
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            key, sep, value = line[1:].strip().partition(": ")
            if sep and re.fullmatch(r"[a-z0-9-]+", key):
                meta[key] = value.strip()
            continue
        if not line:
            continue
        head, *options = line.split(" --hash=")
        match = _PIN.match(head.strip())
        if not match or not all(re.fullmatch(r"sha256:[0-9a-f]{64}", o.strip()) for o in options):
            raise LockError(f"{path}: not an exact pin: {line!r} (regenerate with `python {GENERATOR}`)")
        name = canonical(match.group(1))
        pins[name] = match.group(2)
        if options:
            hashes[name] = [o.strip() for o in options]
    return pins, meta, hashes


def inputs_digest(files: list[Path], *extra: str, root: Path = ROOT) -> str:
    """SHA-256 over the input files (path and content, comments included) and `extra` strings.

    A lock records the digest of what it was resolved from; a test recomputes it, so editing a
    requirements file without regenerating the locks is caught.
    """
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    for item in extra:
        digest.update(item.encode() + b"\0")
    return digest.hexdigest()


def lock_digest(lab: Lab | None) -> str:
    """The inputs digest a lock for `lab` (None: the suite) must carry, from the files as they are now."""
    if lab is None:
        return inputs_digest([*suite_inputs(), CONSTRAINTS], f"python={PYTHON}", "torch=cpu")
    return _lab_digest(lab, read_lock(SUITE_LOCK)[0])


def render_lock(lab: Lab | None, pins: dict[str, str], *, digest: str, pip_version: str,
                hashes: dict[str, str] | None = None) -> str:
    """The text of a lock file: a header saying where it comes from, then sorted `name==version`,
    each followed by the sha256 of the exact file pip chose (`--hash`) when `hashes` has it."""
    if lab is None:
        title = "requirements/locks/suite.txt: every package the suite installs (all labs, dev, Spaces runtime)."
        inputs = " ".join(p.relative_to(ROOT).as_posix() for p in suite_inputs())
        extra = "# .ci/setup.sh installs with this file as a constraint: the tests run exactly these versions."
        torch = "cpu"
    else:
        title = f"requirements/locks/{lab.slug}.txt: everything the {lab.slug} Space installs, exactly."
        inputs = " ".join(p.relative_to(ROOT).as_posix() for p in lab_inputs(lab))
        if is_zerogpu(lab):
            extra = ("# ZeroGPU: CPython " + ZEROGPU_PYTHON + " and PyTorch's CUDA build from PyPI; every other version"
                     " is the suite lock's.")
            torch = "cuda"
        else:
            extra = "# Resolved with requirements/locks/suite.txt as a constraint: every version is one the tests ran."
            torch = "cpu"
    header = [
        f"# {title}",
        f"# Written by `python {GENERATOR}` (pip {pip_version}'s resolver); do not edit by hand.",
        extra,
        f"# inputs: {inputs}",
        "# constraints: requirements/constraints.txt" + ("" if lab is None else " requirements/locks/suite.txt"),
        f"# python: {python_for(lab)}",
        "# platform: linux x86_64",
        f"# torch: {torch}",
        f"# inputs-sha256: {digest}",
    ]
    if hashes:
        header.insert(3, "# Hash-checking mode: every file pip installs must have the sha256 recorded here.")
    body = [f"{name}=={version} \\\n    --hash={hashes[name]}" if hashes and name in hashes else f"{name}=={version}"
            for name, version in sorted(pins.items())]
    return "\n".join(header + body) + "\n"


# ------------------------------------------------------------------------------------ the resolver


_REACHABLE: dict[str, bool] = {}


def _reachable(url: str, timeout: float = 4.0) -> bool:
    """Whether `url`'s host answers HTTPS at all (so pip will not spend minutes retrying it)."""
    if url not in _REACHABLE:
        _REACHABLE[url] = _host_resolves(url) and _probe(url, timeout)
    return _REACHABLE[url]


def _probe(url: str, timeout: float) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except Exception as exc:  # an HTTP error status still means the host answers
        import urllib.error

        return isinstance(exc, urllib.error.HTTPError)


def _host_resolves(url: str) -> bool:
    host = re.sub(r"^https?://([^/:]+).*$", r"\1", url)
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False


def pip_version(python: str = sys.executable) -> str:
    out = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split()[1]


def _conflicting(stderr: str) -> set[str]:
    """Names pip blames in a ResolutionImpossible ('The user requested (constraint) x==1')."""
    return {canonical(m) for m in re.findall(r"requested \(constraint\) ([A-Za-z0-9._-]+)", stderr)}


def resolve(inputs: list[Path], constraints: list[Path], *, seed: dict[str, str] | None = None,
            python_version: str | None = None, cuda_torch: bool = False, torch_index: str | None = TORCH_CPU_INDEX,
            quiet: bool = False, hashes: dict[str, str] | None = None) -> dict[str, str]:
    """Resolve `inputs` with pip and return canonical name -> version for the whole closure.

    Args:
        inputs: Requirements files (`-r`).
        constraints: Constraint files (`-c`), applied as they are.
        seed: Preferred versions (the previous lock, or what is installed): tried as constraints
            first; versions pip says conflict are dropped and the resolution tried again.
        python_version: Resolve for another CPython (X.Y, wheels only), e.g. ZeroGPU's.
        cuda_torch: Resolve torch from PyPI (its default CUDA build) without this machine's pip
            configuration (which may point at local CPU wheels).
        torch_index: PyTorch's CPU index, added when it answers (CPU locks only).
        hashes: When given, filled with canonical name -> `sha256:...` of the file pip chose.

    Raises:
        LockError: If pip cannot resolve; the message carries pip's own explanation.
    """
    seed = dict(seed or {})
    env = dict(os.environ)
    base_cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                "--disable-pip-version-check"]
    if cuda_torch:
        # Only PyPI: no find-links or local indexes that hold torch's CPU build under the same version.
        for key in [k for k in env if k.startswith("PIP_") and k not in {"PIP_CERT", "PIP_DEFAULT_TIMEOUT"}]:
            env.pop(key)
        env["PIP_CONFIG_FILE"] = os.devnull
    elif torch_index and _reachable(torch_index + "/"):
        base_cmd += ["--extra-index-url", torch_index]
    elif torch_index and not quiet and not _REACHABLE.get("said"):
        _REACHABLE["said"] = True
        print(f"   ({torch_index} is not reachable: torch's CPU wheel must come from pip's own configuration)",
              flush=True)
    if python_version:
        base_cmd += ["--python-version", python_version, "--only-binary=:all:"]
    with tempfile.TemporaryDirectory(prefix="lock-") as tmp:
        report = Path(tmp) / "report.json"
        for _attempt in range(8):
            cmd = [*base_cmd, "--report", str(report)]
            for path in constraints:
                cmd += ["-c", str(path)]
            if seed:
                seed_file = Path(tmp) / "seed.txt"
                seed_file.write_text("".join(f"{n}=={v}\n" for n, v in sorted(seed.items())), encoding="utf-8")
                cmd += ["-c", str(seed_file)]
            for path in inputs:
                cmd += ["-r", str(path)]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
            if done.returncode == 0:
                break
            said = done.stdout + "\n" + done.stderr
            blamed = _conflicting(said) & set(seed)
            if not blamed:
                tail = "\n".join(line for line in said.splitlines()
                                 if line.startswith(("ERROR", "  ", "The ", "Additionally")))[-3000:]
                raise LockError(f"pip could not resolve {', '.join(p.name for p in inputs)}:\n{tail}")
            if not quiet:
                print(f"   (preferred versions conflict, resolving these afresh: {', '.join(sorted(blamed))})")
            for name in blamed:
                seed.pop(name)
        else:
            raise LockError("pip kept reporting conflicts; try `python spaces/lock.py --upgrade`.")
        data = json.loads(report.read_text(encoding="utf-8"))
    if hashes is not None:
        for item in data["install"]:
            digest = ((item.get("download_info") or {}).get("archive_info") or {}).get("hashes", {}).get("sha256")
            if digest:
                hashes[canonical(item["metadata"]["name"])] = f"sha256:{digest}"
    return {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in data["install"]}


def _pins_file(pins: dict[str, str], folder: Path, name: str, *, drop_local: bool = False) -> Path:
    """Write pins as a constraint file (optionally without local version labels, `+cpu`)."""
    path = folder / name
    lines = []
    for pkg, version in sorted(pins.items()):
        lines.append(f"{pkg}=={version.split('+', 1)[0] if drop_local else version}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _torch_cpu_constraint(folder: Path) -> Path:
    """`torch==X+cpu` for the X that requirements/constraints.txt pins."""
    text = CONSTRAINTS.read_text(encoding="utf-8")
    match = re.search(r"^torch==([0-9][^\s+;#]*)", text, re.M)
    if not match:
        raise LockError("requirements/constraints.txt must pin torch exactly (torch==X.Y.Z)")
    path = folder / "torch-cpu.txt"
    path.write_text(f"torch=={match.group(1)}+cpu\n", encoding="utf-8")
    return path


def installed_versions() -> dict[str, str]:
    """Canonical name -> version of every distribution installed in this interpreter's environment.

    Only site-packages is read: setuptools puts its vendored copies (importlib-metadata, packaging,
    wheel...) on sys.path once imported, and those are not what pip installed.
    """
    import sysconfig
    from importlib import metadata

    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions(path=paths)
            if d.metadata["Name"]}


def generate(out: Path = LOCKS, *, slugs: list[str] | None = None, mode: str = "keep",
             quiet: bool = False) -> list[Path]:
    """Regenerate the suite lock and the labs' locks into `out`.

    Args:
        out: Folder to write into (requirements/locks, or a temporary folder for --check).
        slugs: Only these labs (the suite lock is always regenerated first when slugs is None).
        mode: "keep" prefers the versions already locked, "env" prefers what is installed here,
            "upgrade" prefers nothing.
    """
    written: list[Path] = []
    pipv = pip_version()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="locks-") as tmp:
        folder = Path(tmp)
        torch_cpu = _torch_cpu_constraint(folder)
        if slugs is None:
            if not quiet:
                print("==> suite lock (every lab + dev + the Spaces runtime)")
            seed = {"keep": read_lock(SUITE_LOCK)[0] if SUITE_LOCK.exists() else {},
                    "env": installed_versions(), "upgrade": {}}[mode]
            seed.pop("pip", None)
            pins = resolve(suite_inputs(), [CONSTRAINTS, torch_cpu], seed=seed, quiet=quiet)
            path = out / SUITE_LOCK.name
            path.write_text(render_lock(None, pins, digest=lock_digest(None), pip_version=pipv), encoding="utf-8")
            written.append(path)
        suite_file = out / SUITE_LOCK.name
        suite_pins, _ = read_lock(suite_file if suite_file.exists() else SUITE_LOCK)
        for lab in LABS:
            if slugs is not None and lab.slug not in slugs:
                continue
            if not quiet:
                print(f"==> {lab.slug}" + (" (ZeroGPU: CUDA torch, Python " + ZEROGPU_PYTHON + ")" if is_zerogpu(lab) else ""))
            hashes: dict[str, str] = {}
            if is_zerogpu(lab):
                previous = read_lock(lock_path(lab.slug))[0] if lock_path(lab.slug).exists() and mode == "keep" else {}
                seed = {k: v for k, v in previous.items() if k not in suite_pins}
                suite_c = _pins_file(suite_pins, folder, "suite-nolocal.txt", drop_local=True)
                pins = resolve(lab_inputs(lab), [CONSTRAINTS, suite_c], seed=seed, python_version=ZEROGPU_PYTHON,
                               cuda_torch=True, quiet=quiet, hashes=hashes)
            else:
                suite_c = _pins_file(suite_pins, folder, "suite.txt")
                pins = resolve(lab_inputs(lab), [CONSTRAINTS, suite_c, torch_cpu], quiet=quiet, hashes=hashes)
            path = out / f"{lab.slug}.txt"
            digest = _lab_digest(lab, suite_pins)
            path.write_text(render_lock(lab, pins, digest=digest, pip_version=pipv, hashes=hashes), encoding="utf-8")
            written.append(path)
    return written


def _lab_digest(lab: Lab, suite_pins: dict[str, str]) -> str:
    suite = "\n".join(f"{name}=={version}" for name, version in sorted(suite_pins.items()))
    flavour = "torch=cuda" if is_zerogpu(lab) else "torch=cpu"
    return inputs_digest([*lab_inputs(lab), CONSTRAINTS], f"python={python_for(lab)}", flavour,
                         f"suite={hashlib.sha256(suite.encode()).hexdigest()}")


# ------------------------------------------------------------------------------------ checks


def unsatisfied(requirement_files: list[Path], pins: dict[str, str], *, extras_ok: bool = True,
                environment: dict[str, str] | None = None) -> list[str]:
    """Requirement lines of `requirement_files` that the pins do not satisfy (markers evaluated).

    A requirement whose marker is false here (e.g. `tensorflow; sys_platform != "linux"`) is skipped.
    """
    from packaging.requirements import Requirement
    from packaging.version import Version

    bad = []
    for path in requirement_files:
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(environment):
                continue
            version = pins.get(canonical(req.name))
            if version is None:
                bad.append(f"{path.name}: {line} (not in the lock)")
            elif not req.specifier.contains(Version(version), prereleases=True):
                bad.append(f"{path.name}: {line} (the lock has {version})")
    return bad


def requested_extras(requirement_files: list[Path]) -> dict[str, set[str]]:
    """Canonical name -> extras the requirement files ask for (e.g. gradio -> {oauth, mcp})."""
    from packaging.requirements import Requirement

    extras: dict[str, set[str]] = {}
    for path in requirement_files:
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                req = Requirement(line)
                if req.extras:
                    extras.setdefault(canonical(req.name), set()).update(req.extras)
    return extras


def closure_gaps(pins: dict[str, str], extras: dict[str, set[str]] | None = None) -> list[str]:
    """Dependencies of the locked packages (read from this environment's metadata) that the lock
    does not satisfy: an incomplete closure. `extras` adds the dependencies of requested extras
    (and of the extras those name). Packages not installed here at the locked version are skipped."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.version import Version

    wanted = {name: set(values) for name, values in (extras or {}).items()}
    gaps: list[str] = []
    queue = sorted(pins)
    seen_extras: dict[str, set[str]] = {}
    while queue:
        name = queue.pop()
        version = pins[name]
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        asked = wanted.get(name, set()) - seen_extras.get(name, set())
        first = name not in seen_extras
        seen_extras.setdefault(name, set()).update(asked)
        for raw in dist.requires or []:
            req = Requirement(raw)
            applies = [extra for extra in ([""] if first else []) + sorted(asked)
                       if req.marker is None or req.marker.evaluate({"extra": extra})]
            if not applies or (req.marker is None and not first):
                continue
            dep = canonical(req.name)
            have = pins.get(dep)
            if have is None:
                gaps.append(f"{name} {version} needs {req} (not in the lock)")
            elif not req.specifier.contains(Version(have), prereleases=True):
                gaps.append(f"{name} {version} needs {req} (the lock has {have})")
            elif req.extras - wanted.get(dep, set()):
                wanted.setdefault(dep, set()).update(req.extras)
                queue.append(dep)
    return gaps


def check(quiet: bool = False) -> int:
    """Resolve every lock again into a temporary folder and print the differences. Returns 0 if none."""
    with tempfile.TemporaryDirectory(prefix="lock-check-") as tmp:
        generate(Path(tmp), mode="keep", quiet=quiet)
        drift = 0
        for fresh in sorted(Path(tmp).glob("*.txt")):
            committed = LOCKS / fresh.name
            old = committed.read_text(encoding="utf-8").splitlines() if committed.exists() else []
            new = fresh.read_text(encoding="utf-8").splitlines()
            strip = [line for line in old if not line.startswith("# Written by")]
            if strip != [line for line in new if not line.startswith("# Written by")]:
                drift += 1
                sys.stdout.writelines(difflib.unified_diff([l + "\n" for l in old], [l + "\n" for l in new],
                                                           str(committed.relative_to(ROOT)), "resolved now"))
    print("locks are up to date" if not drift else f"{drift} lock(s) differ: run `python {GENERATOR}`")
    return 1 if drift else 0


def verify_hashes(slugs: list[str] | None = None, *, index: str = "https://pypi.org/simple",
                  timeout: float = 20.0) -> dict[str, list[str]]:
    """Check every hash in the labs' locks against the public index (PEP 691 JSON): the files a
    Space downloads from PyPI must be the very files this machine's pip chose (a mirror or a
    find-links folder could hold a rebuilt wheel under the same name).

    Returns:
        {"ok": [...], "mismatch": [...], "unverified": [...]} as `name==version` strings; torch's
        `+cpu` build is checked against PyTorch's CPU index when it answers, else unverified.
    """
    import urllib.request

    seen: dict[tuple[str, str, str], str] = {}
    for lab in LABS:
        if slugs and lab.slug not in slugs:
            continue
        path = lock_path(lab.slug)
        pins = read_lock(path)[0]
        for name, wanted in read_hashes(path).items():
            seen.setdefault((name, pins[name], wanted[0]), lab.slug)
    listing: dict[str, dict[str, set[str]] | None] = {}
    result: dict[str, list[str]] = {"ok": [], "mismatch": [], "unverified": []}
    for name, version, wanted in sorted(seen):
        base = TORCH_CPU_INDEX if version.endswith("+cpu") else index
        key = f"{base}/{name}"
        if key not in listing:
            try:
                req = urllib.request.Request(f"{base}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
                with urllib.request.urlopen(req, timeout=timeout) as reply:
                    files = json.loads(reply.read())["files"]
                by_version: dict[str, set[str]] = {}
                for item in files:
                    digest = item.get("hashes", {}).get("sha256")
                    if digest:
                        by_version.setdefault(item["filename"], set()).add(digest)
                listing[key] = by_version
            except Exception:  # unreachable index or not JSON: cannot say either way
                listing[key] = None
        files = listing[key]
        label = f"{name}=={version}"
        if files is None:
            result["unverified"].append(label)
        elif any(wanted.removeprefix("sha256:") in digests for digests in files.values()):
            result["ok"].append(label)
        else:
            result["mismatch"].append(label)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate requirements/locks/ with pip's resolver.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--from-env", action="store_true", help="prefer the versions installed in this environment")
    group.add_argument("--upgrade", action="store_true", help="prefer nothing: newest versions allowed")
    group.add_argument("--check", action="store_true", help="resolve again and diff against the committed locks")
    group.add_argument("--verify-hashes", action="store_true",
                       help="check the labs' locked hashes against PyPI (needs the network)")
    parser.add_argument("--lab", action="append", metavar="SLUG", help="only this lab's lock (repeatable)")
    args = parser.parse_args(argv)
    if shutil.which("pip") is None and subprocess.run([sys.executable, "-m", "pip", "--version"],
                                                      capture_output=True).returncode:
        raise SystemExit("pip is not available in this Python; run with the suite's .venv/bin/python")
    try:
        if args.check:
            raise SystemExit(check())
        if args.verify_hashes:
            found = verify_hashes(args.lab)
            for label in found["mismatch"]:
                print(f"   MISMATCH {label}: the index has no file with the locked sha256")
            print(f"   {len(found['ok'])} files match the index, {len(found['mismatch'])} differ, "
                  f"{len(found['unverified'])} unverified (index unreachable: {', '.join(found['unverified']) or '-'})")
            raise SystemExit(1 if found["mismatch"] else 0)
        for slug in args.lab or []:
            get(slug)
        mode = "env" if args.from_env else "upgrade" if args.upgrade else "keep"
        for path in generate(slugs=args.lab, mode=mode):
            pins, _ = read_lock(path)
            print(f"   wrote {path.relative_to(ROOT)}: {len(pins)} packages")
    except (LockError, KeyError) as exc:
        raise SystemExit(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None


if __name__ == "__main__":
    main()
