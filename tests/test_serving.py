"""Shared mode (shared/serving.py), scratch folders (shared/scratch.py) and the limits serve() sets."""

from __future__ import annotations

import os
import time

import pytest

from shared import egress, scratch, serving
from tests.hostile import leaked_secrets, reachable_peer


@pytest.fixture(autouse=True)
def _no_forced_mode(monkeypatch):
    monkeypatch.delenv(serving.SHARED_ENV, raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setattr(serving, "_served_to_others", False)


@pytest.mark.parametrize("host, share, shared", [
    ("127.0.0.1", False, False), ("localhost", False, False), ("::1", False, False), (None, False, False),
    ("0.0.0.0", False, True), ("192.168.1.20", False, True), ("::", False, True), ("127.0.0.1", True, True),
])
def test_mode_follows_how_the_server_is_served(host, share, shared):
    assert serving.mark_served(host, share=share) is shared
    assert serving.is_shared() is shared


def test_space_and_the_explicit_setting(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/png-to-glb")
    assert serving.is_shared()
    monkeypatch.setenv(serving.SHARED_ENV, "0")  # the operator forces local mode
    assert not serving.is_shared()
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setenv(serving.SHARED_ENV, "1")
    assert serving.is_shared()


def test_operator_env_is_never_a_visitors(shared_mode, operator_secrets):
    assert serving.operator_env("HF_TOKEN") == ""
    assert serving.operator_env("COSMOS_KEY", service="cosmos") == ""
    os.environ[serving.OFFER_ENV] = "cosmos"
    try:
        assert serving.operator_env("COSMOS_KEY", service="cosmos") == operator_secrets["COSMOS_KEY"]
        assert serving.operator_env("HF_TOKEN", service="hub") == ""  # only what is offered
    finally:
        del os.environ[serving.OFFER_ENV]


def test_operator_env_locally(operator_secrets):
    assert serving.operator_env("HF_TOKEN") == operator_secrets["HF_TOKEN"]


@pytest.mark.parametrize("address, problem", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("169.254.169.254", "link-local (cloud metadata)"), ("fe80::1", "link-local (cloud metadata)"),
    ("10.0.0.5", "private"), ("172.16.3.4", "private"), ("192.168.0.1", "private"), ("fd00::1", "private"),
    ("::ffff:127.0.0.1", "loopback"), ("0.0.0.0", "private"), ("100.64.0.1", "not publicly routable"),
    ("224.0.0.1", "multicast"), ("8.8.8.8", None), ("2606:4700:4700::1111", None),
])
def test_address_problems(address, problem):
    assert serving.address_problem(address) == problem


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/x", "http://localhost/", "http://[::1]/",
                                 "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/",
                                 "http://2130706433/", "http://0x7f.1/", "https://localhost.:443/"])
def test_endpoints_to_this_machine_or_its_network_are_refused(url, recorder):
    with pytest.raises(serving.RefusedInput, match="address|could not be resolved") as info:
        serving.check_endpoint(url, what="Cosmos endpoint", shared=True)
    assert str(info.value).startswith("The Cosmos endpoint") and "\n" not in str(info.value)
    with pytest.raises(serving.RefusedInput):
        serving.check_endpoint(recorder.url, shared=True)
    assert recorder.seen == []


@pytest.mark.parametrize("url, message", [
    ("", "must be a URL"), ("ftp://example.com/", "must be a URL"), ("file:///etc/passwd", "must be a URL"),
    ("https://", "must be a URL"), ("http://user:pw@example.com/", "user name or password"),
    ("http://[::1/", "not a valid URL"), ("https://example.com:99999/", "not a valid URL"),
])
def test_malformed_endpoints_get_one_line(url, message):
    with pytest.raises(serving.RefusedInput, match=message) as info:
        serving.check_endpoint(url, shared=False)
    assert "\n" not in str(info.value)


def test_public_names_pass_and_local_mode_checks_only_the_form(monkeypatch, recorder):
    monkeypatch.setattr(serving, "_resolve", lambda host, port: ["93.184.215.14"])
    assert serving.check_endpoint(" https://visitor.example/ ", shared=True) == "https://visitor.example/"
    monkeypatch.setattr(serving, "_resolve", lambda host, port: ["93.184.215.14", "127.0.0.1"])  # one bad address
    with pytest.raises(serving.RefusedInput, match="loopback"):
        serving.check_endpoint("https://rebind.example/", shared=True)
    assert serving.check_endpoint(recorder.url, shared=False) == recorder.url


def test_guarded_fetch_refuses_redirects_to_private_addresses(monkeypatch, recorder):
    # The recorder stands in for a public visitor host (its address passes the check) that answers
    # with a redirect to the cloud metadata service; the redirect must be refused, not followed.
    recorder.status, recorder.reply = 302, b""
    recorder.headers["Location"] = "http://169.254.169.254/latest/meta-data/"
    real = serving._resolve
    monkeypatch.setattr(serving, "_resolve", lambda host, port: ["93.184.215.14"] if host == "127.0.0.1"
                        else real(host, port))
    reachable_peer(monkeypatch, recorder.url)
    with pytest.raises(serving.RefusedInput, match="redirect.*link-local"):
        serving.guarded_fetch(recorder.url + "start", shared=True)
    assert [s.path for s in recorder.seen] == ["/start"]


def test_guarded_fetch_checks_the_connected_peer_against_dns_rebinding(monkeypatch, recorder):
    # The name passed the check as public, but the connection lands on 127.0.0.1: dropped unsent.
    monkeypatch.setattr(serving, "_resolve", lambda host, port: ["93.184.215.14"])
    with pytest.raises(OSError, match="loopback"):
        serving.guarded_fetch(recorder.url + "rebound", shared=True)
    assert recorder.seen == []
    status, _ = serving.guarded_fetch(recorder.url + "local", shared=False)  # local mode: loopback is fine
    assert status == 200 and [s.path for s in recorder.seen] == ["/local"]


def test_the_peer_check_refuses_every_non_public_address():
    import socket

    class Peer:
        def __init__(self, address):
            self.address = address

        def getpeername(self):
            if self.address is None:
                raise OSError("not connected")
            return (self.address, 443)

    assert egress.refused_peer(Peer("8.8.8.8")) is None
    for address, problem in (("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("169.254.169.254", "link-local"),
                             ("::ffff:127.0.0.1", "loopback"), ("::1", "loopback"), (None, "unknown")):
        assert problem in egress.refused_peer(Peer(address)), address
    with socket.create_server(("127.0.0.1", 0)) as server:  # a real socket, connected to loopback
        with socket.create_connection(server.getsockname()) as sock:
            assert egress.refused_peer(sock) == "loopback"


def test_guarded_fetch_caps_the_body_and_returns_error_statuses(recorder):
    recorder.reply, recorder.status = b"x" * 5000, 404
    status, body = serving.guarded_fetch(recorder.url, shared=False, max_bytes=100)
    assert (status, len(body)) == (404, 100)


def test_visitor_paths(tmp_path):
    shipped = tmp_path / "shipped"
    (shipped / "model").mkdir(parents=True)
    roots = [shipped]
    assert serving.check_visitor_path(str(shipped / "model"), roots=roots, shared=True)
    messages = set()
    for path in ("/etc", "/nonexistent/folder", str(shipped / ".." / "elsewhere"), "~", "../../etc/passwd"):
        with pytest.raises(serving.RefusedInput) as info:
            serving.check_visitor_path(path, roots=roots, what="model folder", shared=True)
        messages.add(str(info.value))
    assert len(messages) == 1  # the same words whether or not the path exists
    (shipped / "link").symlink_to("/etc")
    with pytest.raises(serving.RefusedInput):
        serving.check_visitor_path(str(shipped / "link"), roots=roots, shared=True)
    assert serving.check_visitor_path("/etc", roots=roots, shared=False) == "/etc"


def test_deadline_and_budgets(shared_mode):
    deadline = serving.Deadline(0.05, what="the query")
    deadline.check()
    time.sleep(0.06)
    assert deadline.left() == 0.0
    with pytest.raises(serving.BudgetExceeded, match="The query ran past its 0.05 s budget"):
        deadline.check()
    with pytest.raises(ValueError):
        serving.Deadline(0)
    assert serving.request_budget(local=100, shared=7) == 7
    assert 0 < serving.memory_budget(fraction=0.5, shared_cap=1 << 20) <= 1 << 20
    with pytest.raises(serving.RefusedInput, match="only its operator"):
        serving.operator_only("clearing the model cache")


def test_scratch_folders_are_pruned(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch.tempfile, "gettempdir", lambda: str(tmp_path))
    old = scratch.new_folder("demo_lab")
    (old / "out.bin").write_bytes(b"x" * 1000)
    hour_ago = time.time() - 2 * scratch.KEEP_S
    os.utime(old, (hour_ago, hour_ago))
    fresh = scratch.new_folder("demo_lab")
    assert not old.exists() and fresh.is_dir()
    assert fresh.parent == scratch.root_for("demo_lab")
    assert oct(fresh.parent.stat().st_mode & 0o777) == "0o700"
    assert scratch.folder_bytes(fresh.parent) == 0


def test_leaked_secrets_finds_every_form(operator_secrets):
    assert leaked_secrets("all fine") == []
    assert leaked_secrets(b"Authorization: AWS4-HMAC-SHA256 Credential=AKIAOPERATORFAKE0001/...") == ["OPERATORFAKE"]
    assert "hf_operatorFAKEtoken" in leaked_secrets({"Authorization": f"Bearer {operator_secrets['HF_TOKEN']}"})


def test_disk_cap_deletes_the_oldest_files_first(tmp_path):
    a, b = tmp_path / "cache", tmp_path / "lab"
    a.mkdir(), b.mkdir()
    now = time.time()
    for i, folder in enumerate([a, b, a, b]):
        path = folder / f"f{i}.bin"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (now - 100 + i, now - 100 + i))
    freed = scratch.cap_folders([str(a), str(b)], 2500)
    assert freed == 2000
    assert sorted(p.name for p in tmp_path.rglob("*.bin")) == ["f2.bin", "f3.bin"]


def test_the_janitor_watches_gradio_and_the_labs_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    for name in ("gradio", "ml_labs-demo-0", "png_to_glb-0/examples", "png_to_glb-0/run_1", "unrelated"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "png_to_glb-link").symlink_to(tmp_path / "unrelated")
    assert sorted(os.path.basename(r) for r in scratch.suite_roots()) == ["gradio", "ml_labs-demo-0", "run_1"]
    (tmp_path / "gradio" / "big.bin").write_bytes(b"x" * 10_000)
    stop = scratch.start_janitor(max_bytes=1000, every_s=0.05)
    try:
        for _ in range(100):
            if not (tmp_path / "gradio" / "big.bin").exists():
                break
            time.sleep(0.05)
    finally:
        stop.set()
    assert not (tmp_path / "gradio" / "big.bin").exists()
