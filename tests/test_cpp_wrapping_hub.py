"""Lab 5 (cpp_wrapping): the huggingface_hub functions against a stand-in hub on 127.0.0.1.

The library is pointed at the local server (`local_hub.py`) through `HF_ENDPOINT` and the
`endpoint=` argument; nothing reaches the network. The suite sets HF_HUB_OFFLINE=1, which makes
huggingface_hub refuse every request, so these tests switch it off for their own duration.
"""

from __future__ import annotations

import json
import time

import pytest

from labs.cpp_wrapping import build, hub_tour, local_hub


@pytest.fixture(scope="module")
def hub():
    server = local_hub.start_local_hub()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def online(monkeypatch, hub, tmp_path):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setenv(build.CACHE_ENV, str(tmp_path))


def test_list_models_and_model_info_with_card(hub):
    rows = hub_tour.search_models(hub.endpoint, "saxpy", 5)
    assert [r["id"] for r in rows] == ["labs/tiny-saxpy"]
    info = hub_tour.inspect_model(hub.endpoint, "labs/tiny-saxpy")
    assert info["files"] == ["README.md", "config.json", "kernels/saxpy.cpp"]
    assert info["card"]["metadata"]["license"] == "apache-2.0"
    assert info["card"]["text"].startswith("# tiny-saxpy")
    assert "GET /api/models" in hub.state.requests


def test_download_uses_the_cache_layout_and_scan_sees_it(hub, tmp_path):
    result = hub_tour.download_file(hub.endpoint, "labs/tiny-saxpy", "config.json")
    assert '"kernel": "saxpy"' in result["preview"]
    assert "/snapshots/" in result["path"] and "/blobs/" in result["symlink_to"]
    before = len(hub.state.requests)
    again = hub_tour.download_file(hub.endpoint, "labs/tiny-saxpy", "config.json")
    assert again["path"] == result["path"]
    assert all(r.startswith("HEAD") for r in hub.state.requests[before:])  # metadata check only, no new GET
    snap = hub_tour.download_snapshot(hub.endpoint, "labs/tiny-saxpy")
    assert snap["files"] == ["README.md", "config.json", "kernels/saxpy.cpp"] and len(snap["commit"]) == 40
    scan = hub_tour.scan_cache()
    assert [r["repo_id"] for r in scan["repos"]] == ["labs/tiny-saxpy"] and scan["repos"][0]["files"] == 3


def test_download_falls_back_to_the_cache_when_the_hub_is_unreachable(hub, tmp_path):
    hub_tour.download_file(hub.endpoint, "labs/tiny-saxpy", "config.json")
    dead = "http://127.0.0.1:9"  # nothing listens on the discard port
    start = time.perf_counter()
    with pytest.raises(hub_tour.HubError, match="could not be reached|not in the cache"):
        hub_tour.download_file(dead, "labs/tiny-saxpy", "README.md")
    with pytest.raises(hub_tour.HubError, match="Cannot reach"):
        hub_tour.search_models(dead, "x", 3)
    assert time.perf_counter() - start < 15  # the reachability probe answers before the library's retries


def test_publish_needs_a_valid_token(hub):
    with pytest.raises(hub_tour.HubError, match="needs a write token"):
        hub_tour.publish(hub.endpoint, "", "labs/new-kernels", build.KERNEL_DIR)
    with pytest.raises(hub_tour.HubError, match="rejected the token \\(HTTP 401") as info:
        hub_tour.publish(hub.endpoint, "hf_wrong_token_123", "labs/new-kernels", build.KERNEL_DIR)
    assert "hf_wrong_token_123" not in str(info.value)
    result = hub_tour.publish(hub.endpoint, local_hub.DEMO_TOKEN, "labs/new-kernels", build.KERNEL_DIR,
                              extra_file=("results.json", b'{"ok": true}'))
    assert "kernels/saxpy_pybind.cpp" in result.files and "results.json" in result.files
    assert result.repo_url.endswith("/labs/new-kernels") and "/commit/" in result.commit_url
    # What was uploaded downloads back byte for byte through hf_hub_download.
    got = hub_tour.download_file(hub.endpoint, "labs/new-kernels", "kernels/saxpy_ctypes.cpp")
    assert got["preview"] == build.shipped_source("ctypes")[: hub_tour.PREVIEW_BYTES]
    with pytest.raises(hub_tour.HubError, match="HTTP 403"):
        hub_tour.publish(hub.endpoint, local_hub.DEMO_TOKEN, "someone-else/repo", build.KERNEL_DIR)


def test_space_runtime(hub):
    status = hub_tour.space_status(hub.endpoint, "labs/cpp-wrapping")
    assert status["stage"] == "RUNNING" and status["hardware"] == "cpu-basic"
    assert status["other_spaces_of_owner"] == ["labs/cpp-wrapping"]


@pytest.mark.parametrize("repo_id,message", [("", "Enter a repository id"), ("a/b/c", "not a valid repo id"),
                                             ("labs/missing", "not found")])
def test_bad_repo_ids(hub, repo_id, message):
    with pytest.raises(hub_tour.HubError, match=message):
        hub_tour.inspect_model(hub.endpoint, repo_id)


def test_offline_mode_is_explained(hub, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(hub_tour.HubError, match="HF_HUB_OFFLINE"):
        hub_tour.search_models(hub.endpoint, "", 3)


def test_hub_panel_end_to_end(client_for, monkeypatch):
    from gradio_client.exceptions import AppError

    from labs.cpp_wrapping import app

    client = client_for(app.demo)
    local = app.HUB_CHOICES[0]
    out = client.predict(local, "labs/tiny-saxpy", "config.json", api_name="/cpp_wrapping_hub_download")
    assert '"kernel": "saxpy"' in json.loads(out)["preview"]
    with pytest.raises(AppError, match="rejected the token"):
        client.predict(local, "labs/x", "nope", False, api_name="/cpp_wrapping_hub_publish")


def test_downloads_never_send_the_servers_saved_token(hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_server_owner_secret")  # what huggingface_hub would pick up by default
    before = len(hub.state.with_token)
    hub_tour.inspect_model(hub.endpoint, "labs/tiny-saxpy")
    hub_tour.download_file(hub.endpoint, "labs/tiny-saxpy", "kernels/saxpy.cpp")
    hub_tour.download_snapshot(hub.endpoint, "labs/tiny-saxpy")
    assert any("/resolve/" in r for r in hub.state.requests)
    assert hub.state.with_token[before:] == []


def test_preview_reads_only_the_first_bytes(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("é" * 10_000, encoding="utf-8")  # 2 bytes each: the limit cuts one in half
    preview = hub_tour.read_preview(big)
    assert preview == "é" * (hub_tour.PREVIEW_BYTES // 2)
    odd = tmp_path / "odd.txt"
    odd.write_bytes(b"a" + "é".encode() * (hub_tour.PREVIEW_BYTES // 2))
    assert hub_tour.read_preview(odd) == "a" + "é" * (hub_tour.PREVIEW_BYTES // 2 - 1)
    blob = tmp_path / "weights.bin"
    blob.write_bytes(b"\xff\xfe\x00" * 5000)
    assert hub_tour.read_preview(blob) == "(15000 bytes of binary data)"


def test_downloads_above_the_size_limit_are_refused_before_downloading(hub, monkeypatch):
    monkeypatch.setattr(hub_tour, "MAX_DOWNLOAD_BYTES", 100)
    sizes = hub_tour.file_sizes(hub.endpoint, "labs/tiny-saxpy")
    assert set(sizes) == {"README.md", "config.json", "kernels/saxpy.cpp"} and all(sizes.values())
    big = max(sizes, key=sizes.get)
    assert sizes[big] > 100
    before = len(hub.state.requests)
    with pytest.raises(hub_tour.HubError, match="above this lab's limit"):
        hub_tour.download_snapshot(hub.endpoint, "labs/tiny-saxpy")
    with pytest.raises(hub_tour.HubError, match=f"labs/tiny-saxpy/{big} is .* above this lab's limit"):
        hub_tour.download_file(hub.endpoint, "labs/tiny-saxpy", big)
    assert not any(r.startswith("GET") and "/resolve/" in r for r in hub.state.requests[before:])  # no download
    assert hub_tour.check_download_size({"a": 60, "b": None}, "x", limit=100) == 60


def test_publish_with_a_readme_and_after_a_refused_request(hub):
    # upload_file of a README.md asks the hub to validate its metadata first (POST /api/validate-yaml),
    # which is what the app's Publish button uploads.
    result = hub_tour.publish(hub.endpoint, local_hub.DEMO_TOKEN, "labs/readme-kernels", build.KERNEL_DIR,
                              extra_file=("README.md", b"# SAXPY kernels\n"))
    assert "README.md" in result.files
    # A refused POST must not leave its unread body on a reused connection: the next call still works.
    with pytest.raises(hub_tour.HubError, match="HTTP 401"):
        hub_tour.publish(hub.endpoint, "hf_wrong_token_123", "labs/readme-kernels", build.KERNEL_DIR)
    again = hub_tour.publish(hub.endpoint, local_hub.DEMO_TOKEN, "labs/readme-kernels", build.KERNEL_DIR,
                             extra_file=("README.md", b"# SAXPY kernels, again\n"))
    assert "README.md" in again.files
    assert hub_tour.space_status(hub.endpoint, "labs/cpp-wrapping")["stage"] == "RUNNING"
