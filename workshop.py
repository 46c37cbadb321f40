"""Prepare a machine (or a whole room) for a workshop, and check what works here.

    python workshop.py doctor                 # per lab: what works here, what is missing, the fixing command
    python workshop.py prefetch               # while online: every default hub model and lab tool
    python workshop.py prefetch --wheels DIR  # ... and every wheel, for `pip install --no-index -f DIR`
    python workshop.py prefetch --dry-run     # what would be downloaded, with sizes
    python workshop.py serve --replicas 2 --host 0.0.0.0 --port 7860
                                              # one server, N launcher processes behind nginx
    python workshop.py deploy --out deploy/   # the suite's image, Compose and Kubernetes files, linted

After `prefetch`, the suite works with the network unplugged: the hub models sit in the Hugging
Face cache (`HF_HOME`), the npm tools in .ci/node_modules, the Debian tools are installed, and
`doctor` says "ready" for every lab. The labs find the hub unreachable at start and use what is
cached (see each lab's README).

`serve` runs N copies of the launcher on loopback ports behind Debian's nginx, with session
affinity: gradio keeps a visitor's queue, uploads and results in one process, so every request of
a visitor must reach the same replica. nginx hashes a cookie it sets on the first answer
(`ml_labs_replica`, a random id), so a browser or a gradio_client stays on its replica, and a room
behind one NAT address still spreads over all of them. A replica that dies is skipped; its
visitors start a new session on another one, the others notice nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from labs import LABS, Lab, get  # noqa: E402
from labs.docker_mlops.suite_deploy import AFFINITY_COOKIE  # noqa: E402,F401  (nginx's affinity cookie)
from shared.optional import missing  # noqa: E402

# The command a Debian package gives (what `doctor` looks for on PATH).
APT_COMMANDS = {"g++": "g++", "gcc": "gcc", "binutils": "nm", "nginx": "nginx", "nodejs": "node", "npm": "npm"}
NODE_BIN = ROOT / ".ci" / "node_modules" / ".bin"
# What a pipeline needs from a model repository: config, tokenizer and one copy of the weights.
MODEL_FILES = ("*.json", "*.txt", "*.model", "*.tiktoken", "*.safetensors")
HUB_PROBE_S = 3.0


@dataclass
class Finding:
    """One lab's state on this machine."""

    lab: Lab
    missing: list[str] = field(default_factory=list)  # what is absent, in words
    fixes: list[str] = field(default_factory=list)  # one command per absent piece
    notes: list[str] = field(default_factory=list)  # works, but differently (offline defaults, no GPU)

    partial: bool = False  # runs, but with its offline defaults instead of its hub models

    @property
    def status(self) -> str:
        return "missing" if self.missing else "offline defaults" if self.partial else "ready"


# ------------------------------------------------------------------------------------ doctor


def hub_reachable(timeout: float = HUB_PROBE_S) -> bool:
    """Whether the Hugging Face hub answers (one HEAD request; never with a token)."""
    import urllib.request

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint + "/api/models?limit=1", method="HEAD"),
                               timeout=timeout)
        return True
    except Exception:  # DNS failure, refused, timeout, HTTP error: not usable for downloads
        return False


def cached_model(repo_id: str) -> bool:
    """Whether a model's config is in the local Hugging Face cache (what an offline load needs first)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return isinstance(found, str)


def apt_missing(packages: Sequence[str]) -> list[str]:
    """Debian packages whose command is not on PATH."""
    return [pkg for pkg in packages if shutil.which(APT_COMMANDS.get(pkg, pkg)) is None]


def node_missing(packages: Sequence[str]) -> list[str]:
    """npm packages (`name@version`) whose command is neither in .ci/node_modules nor on PATH."""
    absent = []
    for spec in packages:
        name = spec.rsplit("@", 1)[0] if not spec.startswith("@") else spec
        if not (NODE_BIN / name).exists() and shutil.which(name) is None:
            absent.append(spec)
    return absent


def examine(lab: Lab, *, online: bool) -> Finding:
    """What `lab` needs that this machine lacks, and the command that fixes each piece."""
    found = Finding(lab)
    modules = missing(lab.needs)
    if modules:
        found.missing.append(f"Python packages: {', '.join(modules)}")
        found.fixes.append(f".venv/bin/pip install -c requirements/constraints.txt -c requirements/locks/suite.txt "
                           f"-r requirements/{lab.slug}.txt")
    apt = apt_missing(lab.apt)
    if apt:
        found.missing.append(f"Debian packages: {', '.join(apt)}")
        found.fixes.append(f"sudo apt-get install -y {' '.join(apt)}")
    node = node_missing(lab.node)
    if node:
        found.missing.append(f"npm tools: {', '.join(node)}")
        script = ROOT / ".ci" / f"lab-{lab.slug}.sh"
        found.fixes.append(f"bash {script.relative_to(ROOT)}" if script.exists() else f"npm install {' '.join(node)}")
    if lab.preload and "huggingface_hub" not in missing(["huggingface_hub"]):
        absent = [repo for repo in lab.preload if not cached_model(repo)]
        if absent and online:
            found.notes.append(f"{len(absent)} of {len(lab.preload)} default hub models not cached yet "
                               f"(downloaded on first use; offline they would not be)")
            found.fixes.append(f"python workshop.py prefetch --labs {lab.slug}")
        elif absent:
            found.partial = True
            found.notes.append(f"{len(absent)} of {len(lab.preload)} default hub models are not cached and the hub "
                               f"is unreachable: the lab runs its offline defaults")
            found.fixes.append(f"python workshop.py prefetch --labs {lab.slug}   # once, while online")
    if lab.hardware and shutil.which("nvidia-smi") is None:
        found.notes.append("no NVIDIA GPU here: the CPU path runs, GPU figures need a GPU machine")
    return found


def doctor(labs: Sequence[Lab], *, online: bool | None = None, out=sys.stdout) -> list[Finding]:
    """Print, per lab, whether it is ready here and the command that fixes what is not."""
    online = hub_reachable() if online is None else online
    print(f"Hugging Face hub: {'reachable' if online else 'unreachable (offline defaults and cached models only)'}",
          file=out)
    findings = [examine(lab, online=online) for lab in labs]
    width = max(len(lab.slug) for lab in labs)
    for item in findings:
        mark = {"ready": "✓", "missing": "✗"}.get(item.status, "~")
        print(f"{mark} {item.lab.number:>2} {item.lab.slug:<{width}}  {item.status}", file=out)
        for line in item.missing:
            print(f"      missing: {line}", file=out)
        for line in item.notes:
            print(f"      note: {line}", file=out)
        for line in dict.fromkeys(item.fixes):
            print(f"      fix: {line}", file=out)
    ready = sum(item.status == "ready" for item in findings)
    partial = sum(item.status == "offline defaults" for item in findings)
    print(f"{ready} of {len(findings)} labs ready here" + (f", {partial} on offline defaults" if partial else ""),
          file=out)
    return findings


# ------------------------------------------------------------------------------------ prefetch


def model_files(siblings: Sequence[tuple[str, int | None]]) -> list[tuple[str, int]]:
    """The files of a model repository a pipeline loads: config and tokenizer files plus one copy of
    the weights (safetensors when the repository has them, else PyTorch's .bin), at the top level.

    Args:
        siblings: (path in the repository, size in bytes or None) for every file.
    """
    import fnmatch

    top = [(name, size or 0) for name, size in siblings if "/" not in name]
    has_safetensors = any(name.endswith(".safetensors") for name, _ in top)
    patterns = MODEL_FILES if has_safetensors else (*MODEL_FILES, "pytorch_model*.bin")
    return [(name, size) for name, size in top if any(fnmatch.fnmatch(name, p) for p in patterns)]


def plan_models(repos: Sequence[str]) -> list[tuple[str, list[tuple[str, int]]]]:
    """For every repository, the files to fetch and their sizes (one metadata call each, anonymous)."""
    from huggingface_hub import HfApi

    api = HfApi(token=False)
    planned = []
    for repo in repos:
        info = api.model_info(repo, files_metadata=True)
        planned.append((repo, model_files([(s.rfilename, s.size) for s in info.siblings or []])))
    return planned


def human(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def prefetch(labs: Sequence[Lab], *, wheels: Path | None = None, system: bool = True, dry_run: bool = False) -> int:
    """Download what the labs use by default, so the suite then works offline. Returns an exit code."""
    repos = list(dict.fromkeys(repo for lab in labs for repo in lab.preload))
    failures = 0
    if repos:
        if not hub_reachable():
            print("!! the Hugging Face hub is unreachable from here (or HF_HUB_OFFLINE is set): run prefetch "
                  "while online. The labs still run offline with their offline defaults.")
            failures += 1
        else:
            from huggingface_hub import snapshot_download

            planned = plan_models(repos)
            total = sum(size for _, files in planned for _, size in files)
            print(f"==> {len(planned)} hub models, {human(total)} in all")
            for number, (repo, files) in enumerate(planned, 1):
                size = sum(s for _, s in files)
                print(f"[{number}/{len(planned)}] {repo}: {len(files)} files, {human(size)}", flush=True)
                if not dry_run:  # huggingface_hub draws a progress bar per file
                    snapshot_download(repo, allow_patterns=[name for name, _ in files], token=False)
    if system:
        for lab in labs:
            script = ROOT / ".ci" / f"lab-{lab.slug}.sh"
            if script.exists() and (apt_missing(lab.apt) or node_missing(lab.node)):
                print(f"==> {lab.slug}: system tools ({script.relative_to(ROOT)})", flush=True)
                if not dry_run and subprocess.run(["bash", str(script)], cwd=ROOT).returncode:
                    print(f"!! {script.relative_to(ROOT)} failed (it may need root: sudo bash {script.relative_to(ROOT)})")
                    failures += 1
    if wheels is not None:
        reqs = ["-r", "requirements/base.txt"]
        for lab in labs:
            reqs += ["-r", lab.requirements_file]
        cmd = [sys.executable, "-m", "pip", "download", "-q", "-d", str(wheels), "-c", "requirements/constraints.txt",
               "-c", "requirements/locks/suite.txt", *reqs]
        print(f"==> wheels into {wheels} (a room then installs with: pip install --no-index -f {wheels} ...)", flush=True)
        if not dry_run and subprocess.run(cmd, cwd=ROOT).returncode:
            failures += 1
    print("done: run `python workshop.py doctor` to check" if not failures else f"{failures} step(s) failed (above)")
    return 1 if failures else 0


# ------------------------------------------------------------------------------------ replicas behind nginx

def nginx_conf(ports: Sequence[int], *, listen: str, folder: Path) -> str:
    """nginx in front of replicas on loopback `ports`, sticky by cookie (docker_mlops' suite template)."""
    from labs.docker_mlops.suite_deploy import nginx_conf as template

    return template([f"127.0.0.1:{port}" for port in ports], listen=listen, folder=folder)


def deploy(out: Path, replicas: int, max_replicas: int) -> int:
    """Write the suite's image, Compose and Kubernetes files into `out` and lint them."""
    from labs.docker_mlops import suite_deploy

    files = suite_deploy.generate(replicas, max_replicas)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    findings = suite_deploy.lint(files, replicas)
    for item in findings:
        print(f"{ {'ok': '✓', 'error': '✗'}.get(item.level, '~')} {item.file:14} {item.tool:20} {item.message}")
    errors = sum(item.level == "error" for item in findings)
    print(f"wrote {', '.join(files)} to {out}; {errors} error(s)")
    return 1 if errors else 0


class Replicas:
    """N launcher processes on free loopback ports plus nginx in front; a context manager."""

    def __init__(self, count: int, *, host: str = "127.0.0.1", port: int = 7860, labs: str | None = None,
                 folder: Path | None = None, shared: bool = True):
        import tempfile

        if not 1 <= count <= 16:
            raise ValueError(f"--replicas must be 1-16, not {count}")
        if shutil.which("nginx") is None:
            raise RuntimeError("nginx is not installed: sudo apt-get install -y nginx")
        self.count, self.host, self.port, self.labs, self.shared = count, host, port, labs, shared
        self.folder = Path(folder or tempfile.mkdtemp(prefix="ml-labs-replicas-"))
        self.ports: list[int] = []
        self.procs: list[subprocess.Popen] = []
        self.nginx: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{'127.0.0.1' if self.host in {'0.0.0.0', '::'} else self.host}:{self.port}/"

    def __enter__(self) -> "Replicas":
        import socket

        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.folder / kind).mkdir(parents=True, exist_ok=True)
            if hasattr(os, "geteuid") and os.geteuid() == 0:  # nginx's workers drop root for `nobody`
                os.chmod(self.folder / kind, 0o777)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            os.chmod(self.folder, 0o755)
            private = next((p for p in self.folder.resolve().parents if not os.stat(p).st_mode & stat.S_IXOTH), None)
            if private is not None:  # the workers could not write nginx's cache of gradio's files
                raise RuntimeError(f"nginx's workers run as 'nobody', who cannot enter {private}: "
                                   f"give Replicas a folder under /tmp (or none)")
        try:
            for _ in range(self.count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    port = probe.getsockname()[1]
                cmd = [sys.executable, str(ROOT / "launcher.py"), "--port", str(port),
                       "--shared-mode", "on" if self.shared else "auto"]
                if self.labs:
                    cmd += ["--labs", self.labs]
                log = open(self.folder / f"replica-{port}.log", "w")
                # Each replica keeps its own uploads and results, as on separate machines.
                env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False",
                       "GRADIO_TEMP_DIR": str(self.folder / f"replica-{port}-files")}
                self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
                self.ports.append(port)
            for port, proc in zip(self.ports, self.procs):
                wait_http(f"http://127.0.0.1:{port}/", proc)
            conf = self.folder / "nginx.conf"
            conf.write_text(nginx_conf(self.ports, listen=f"{self.host}:{self.port}", folder=self.folder),
                            encoding="utf-8")
            checked = subprocess.run(["nginx", "-t", "-q", "-c", str(conf), "-p", str(self.folder)],
                                     capture_output=True, text=True, timeout=30)
            if checked.returncode:
                raise RuntimeError(f"nginx -t refused the configuration: {checked.stderr.strip()}")
            self.nginx = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(self.folder), "-g", "daemon off;"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wait_http(self.url, self.nginx)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def kill(self, index: int) -> None:
        """Stop one replica abruptly (SIGKILL), as a crash would."""
        self.procs[index].kill()
        self.procs[index].wait(timeout=30)

    def __exit__(self, *exc) -> None:
        for proc in [*self.procs, *([self.nginx] if self.nginx else [])]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.procs, *([self.nginx] if self.nginx else [])]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"a process for {url} exited with {proc.returncode} before answering")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# ------------------------------------------------------------------------------------ command line


def select(slugs: str | None) -> list[Lab]:
    if not slugs:
        return list(LABS)
    try:
        return [get(s.strip()) for s in slugs.split(",") if s.strip()]
    except KeyError as exc:
        raise SystemExit(str(exc.args[0])) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Prepare and check a machine for the ML engineering labs.")
    sub = parser.add_subparsers(dest="command", required=True)
    doc = sub.add_parser("doctor", help="per lab: what works here and the command that fixes what does not")
    doc.add_argument("--labs", help="comma-separated slugs (default: all)")
    doc.add_argument("--offline", action="store_true", help="do not probe the hub")
    pre = sub.add_parser("prefetch", help="download every default hub model, lab tool and (optionally) wheel")
    pre.add_argument("--labs", help="comma-separated slugs (default: all)")
    pre.add_argument("--wheels", type=Path, help="also download every wheel into this folder")
    pre.add_argument("--no-system", action="store_true", help="skip Debian/npm tools (.ci/lab-*.sh)")
    pre.add_argument("--dry-run", action="store_true", help="say what would be downloaded, with sizes")
    srv = sub.add_parser("serve", help="N launcher replicas behind nginx with session affinity")
    srv.add_argument("--replicas", type=int, default=2)
    srv.add_argument("--host", default="127.0.0.1", help="the front's address (0.0.0.0 for a room)")
    srv.add_argument("--port", type=int, default=7860)
    srv.add_argument("--labs", help="comma-separated slugs (default: all)")
    dep = sub.add_parser("deploy", help="write the suite's container image, Compose and Kubernetes files, linted")
    dep.add_argument("--out", type=Path, default=ROOT / "deploy")
    dep.add_argument("--replicas", type=int, default=3)
    dep.add_argument("--max-replicas", type=int, default=10)
    args = parser.parse_args(argv)
    if args.command == "deploy":
        try:
            return deploy(args.out, args.replicas, args.max_replicas)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
    labs = select(args.labs)
    if args.command == "serve":
        import time

        try:
            with Replicas(args.replicas, host=args.host, port=args.port, labs=args.labs) as room:
                print(f"{args.replicas} replicas ({', '.join(map(str, room.ports))}) behind nginx: {room.url} "
                      f"(logs in {room.folder}); Ctrl+C stops everything", flush=True)
                while all(p.poll() is None for p in [room.nginx]):
                    time.sleep(1)
        except (RuntimeError, ValueError) as exc:
            raise SystemExit(str(exc)) from None
        except KeyboardInterrupt:
            pass
        return 0
    if args.command == "doctor":
        findings = doctor(labs, online=False if args.offline else None)
        return 1 if any(item.status == "missing" for item in findings) else 0
    return prefetch(labs, wheels=args.wheels, system=not args.no_system, dry_run=args.dry_run)


if __name__ == "__main__":
    raise SystemExit(main())
