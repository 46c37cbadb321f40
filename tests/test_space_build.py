"""spaces/check.py: an exported Space builds from its own requirements.txt in a fresh venv and answers
its API when run as an unprivileged user that cannot see the repository.

Skipped without root (runuser, unshare), Debian's /usr/bin/python3.11, or a reachable package index
(the build installs from it, through pip's cache). About a minute per lab with a warm cache.
"""

import importlib.util
import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

from labs import get

ROOT = Path(__file__).resolve().parents[1]
MAX_CPU_SPACE_BYTES = int(1.5 * 1024**3)  # the goal for a CPU lab's environment


def load_check():
    spec = importlib.util.spec_from_file_location("space_check", ROOT / "spaces" / "check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclass looks the module up there
    spec.loader.exec_module(module)
    return module


def index_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


check = load_check()
why = check.prerequisites()
needs_builder = pytest.mark.skipif(
    why is not None or not index_reachable(),
    reason=f"the Space build check {why}" if why else "no package index reachable (the build installs from it)")


def test_dockerfile_apt_names_are_read():
    text = "RUN apt-get update \\\n && apt-get install -y --no-install-recommends nodejs npm nginx \\\n && rm -rf x\n"
    assert check.dockerfile_apt(text) == ["nodejs", "npm", "nginx"]


def test_apt_names_are_checked_against_debian():
    if shutil.which("apt-cache") is None:
        pytest.skip("no apt-cache here")
    assert check.apt_known(["coreutils", "no-such-package-xyz"]) == {"coreutils": True, "no-such-package-xyz": False}


@needs_builder
@pytest.mark.timeout(420)
@pytest.mark.parametrize("slug", [
    "png_to_glb",
    "wheel_packaging",  # system needs: gcc and binutils from packages.txt
    pytest.param("cloud_sdks", marks=pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")),
    "docker_mlops",  # system needs: nginx, whose `nginx -t` check must work without root
])
def test_exported_space_builds_and_answers_as_a_stranger(slug):
    report = check.check(slug)
    print("\n" + report.line() + "".join(f"\n     note: {n}" for n in report.notes))
    assert report.ok, report.error
    assert report.start_s > 0 and report.call_s > 0 and report.packages > 50
    assert report.venv_bytes < MAX_CPU_SPACE_BYTES, f"{report.venv_bytes / 1024**3:.2f} GB"
    lab = get(slug)
    assert all(report.apt.values())
    assert set(report.apt) == (set(lab.apt) | ({"nodejs", "npm"} if lab.node else set()))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_check_reports_a_broken_build_instead_of_raising(monkeypatch):
    def no_export(*args, **kwargs):
        raise ValueError("requirements/locks/png_to_glb.txt is missing")

    monkeypatch.setattr(check.export, "export", no_export)
    if check.prerequisites() is not None:
        pytest.skip(check.prerequisites())
    report = check.check("png_to_glb")
    assert not report.ok and "locks/png_to_glb.txt is missing" in report.error
    assert report.line().startswith("FAIL png_to_glb")
