"""`workshop.py serve`: launcher replicas behind Debian's nginx, for real on 127.0.0.1. A visitor's
upload and the prediction that reads it land on one replica (each replica has its own files, so
they would fail otherwise), and a replica killed mid-session leaves the other's visitors alone."""

import shutil
import tempfile
from pathlib import Path

import pytest

import workshop

from .conftest import free_port
from .test_spaces_export import load_browser_module

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="needs Debian's nginx (.ci/lab-docker_mlops.sh)")


def test_nginx_conf_is_sticky_and_streams(tmp_path):
    conf = workshop.nginx_conf([8001, 8002], listen="127.0.0.1:9000", folder=tmp_path)
    assert "hash $affinity consistent;" in conf and "proxy_buffering off;" in conf
    assert "server 127.0.0.1:8001" in conf and "server 127.0.0.1:8002" in conf
    assert f"{workshop.AFFINITY_COOKIE}=$affinity" in conf


@pytest.fixture
def room_folder():
    """A folder under /tmp: run as root, nginx's workers (user nobody) must reach it to write their cache."""
    with tempfile.TemporaryDirectory(prefix="ml-labs-replicas-test-") as folder:
        yield Path(folder)


def replica_of(client) -> str:
    import httpx

    reply = httpx.get(client.src, cookies=client.cookies, timeout=30)
    return reply.headers["x-replica"]


def test_sessions_stick_to_a_replica_and_survive_another_ones_death(tmp_path, room_folder):
    from gradio_client import Client

    png = load_browser_module("png_to_glb").api_smoke
    with workshop.Replicas(2, port=free_port(), labs="png_to_glb,cloud_sdks", folder=room_folder) as room:
        clients = {}
        for _ in range(24):  # fresh visitors until both replicas have one
            client = Client(room.url, verbose=False, download_files=str(tmp_path / "dl"))
            assert workshop.AFFINITY_COOKIE in client.cookies, "nginx sets the affinity cookie on the first answer"
            clients.setdefault(replica_of(client), client)
            if len(clients) == 2:
                break
        assert len(clients) == 2, "new visitors spread over both replicas"
        for where, client in clients.items():
            png(client)  # upload, convert, then the STL: only works if all reach the replica holding the file and state
            assert {replica_of(client) for _ in range(5)} == {where}
        (dead, _), (alive, survivor) = sorted(clients.items(), key=lambda kv: kv[0] != f"127.0.0.1:{room.ports[0]}")
        room.kill(0)
        png(survivor)  # the other replica's visitor notices nothing
        assert replica_of(survivor) == alive
        newcomer = Client(room.url, verbose=False, download_files=str(tmp_path / "dl2"))
        png(newcomer)
        assert replica_of(newcomer) == alive, "a new session goes to the replica that is up"


def test_gradio_frontend_files_come_from_nginx_cache_and_pages_do_not(room_folder):
    import re

    import httpx

    with workshop.Replicas(1, port=free_port(), labs="cloud_sdks", folder=room_folder) as room:
        page = httpx.get(room.url, timeout=30)
        assert page.status_code == 200 and "x-cache" not in page.headers, "pages are per session: never cached"
        assert workshop.AFFINITY_COOKIE in page.cookies
        asset = re.search(r'src="\./(assets/index-[^"]+\.js)"', page.text).group(1)
        first = httpx.get(room.url + asset, headers={"Accept-Encoding": "gzip"}, timeout=30)
        second = httpx.get(room.url + asset, headers={"Accept-Encoding": "gzip"}, timeout=30)
        assert first.status_code == second.status_code == 200 and first.content == second.content
        assert second.headers["x-cache"] == "HIT", "the second fetch never reaches the replica"
        assert "immutable" in second.headers["cache-control"]
        assert second.headers.get("content-encoding") == "gzip", "nginx compresses the cached plain copy"
        assert "set-cookie" not in second.headers, "a cached file carries no visitor's cookie"
        plain = httpx.get(room.url + asset, headers={"Accept-Encoding": "identity"}, timeout=30)
        assert plain.headers.get("content-encoding") is None and plain.content == first.content
