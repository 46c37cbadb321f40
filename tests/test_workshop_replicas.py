"""`workshop.py serve`: launcher replicas behind Debian's nginx, for real on 127.0.0.1. A visitor's
upload and the prediction that reads it land on one replica (each replica has its own files, so
they would fail otherwise), and a replica killed mid-session leaves the other's visitors alone."""

import shutil

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


def replica_of(client) -> str:
    import httpx

    reply = httpx.get(client.src, cookies=client.cookies, timeout=30)
    return reply.headers["x-replica"]


def test_sessions_stick_to_a_replica_and_survive_another_ones_death(tmp_path):
    from gradio_client import Client

    png = load_browser_module("png_to_glb").api_smoke
    with workshop.Replicas(2, port=free_port(), labs="png_to_glb,cloud_sdks", folder=tmp_path) as room:
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
