"""The package catalogue: publisher and status from index metadata, with the rule used per row.

Offline: the shipped snapshot, the pure derivation rules, and the refresh path run end to end against
a local index on 127.0.0.1 (PEP 691 JSON pages, wheels served with HTTP range support).
"""

from __future__ import annotations

import io
import json
import os
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labs.cloud_sdks import build_catalogue as bc
from labs.cloud_sdks import pypi_metadata
from labs.cloud_sdks import catalogue
from shared import serving


@pytest.fixture(scope="module")
def shipped():
    snap = catalogue.load()
    return snap, {r["name"]: r for r in snap.rows}


# --- The shipped snapshot ------------------------------------------------------------------------

def test_snapshot_has_rule_status_and_check_date(shipped):
    snap, _ = shipped
    assert snap.checked[:4].isdigit() and "rows" in snap.checked
    for column in ("status", "publisher_name", "rule", "checked"):
        assert column in snap.rows[0], column
    assert all(r["rule"] for r in snap.rows)
    checked = [r for r in snap.rows if r["checked"]]
    official = [r for r in snap.rows if r["publisher"] == "official"]
    assert len(checked) >= 1000
    assert all(r["checked"] for r in official), "every official row was checked against the index"


def test_third_party_cdk_packages_are_not_official(shipped):
    _, rows = shipped
    oidc = rows["aws-cdk-github-oidc"]  # a community construct whose name starts like AWS's own
    assert oidc["publisher"] == "community" and oidc["publisher_name"] != "Amazon Web Services"
    assert oidc["rule"].startswith("community:") and "github.com/" in oidc["rule"]
    assert rows["aws-cdk-helloworld"]["publisher"] == "community"
    # AWS's own CDK packages stay official, with the evidence named.
    assert rows["aws-cdk-lib"]["publisher"] == "official" and rows["aws-cdk-lib"]["publisher_name"] == "Amazon Web Services"
    assert rows["aws-cdk-aws-*"]["publisher"] == "official" and "checked on member" in rows["aws-cdk-aws-*"]["rule"]
    # CDK assets are infrastructure as code, not AI ("proxy-agent" is not an AI agent).
    assert rows["aws-cdk-asset-node-proxy-agent-v6"]["category"] == "Infrastructure as code"


def test_deprecated_packages_are_flagged_with_the_reason(shipped):
    _, rows = shipped
    assert rows["msrestazure"]["status"] == "deprecated" and "7 - Inactive" in rows["msrestazure"]["rule"]
    assert rows["azureml-core"]["status"] == "deprecated" and "description" in rows["azureml-core"]["rule"]
    assert rows["aws-cdk-aws-*"]["status"] == "deprecated"  # CDK v1, replaced by aws-cdk-lib
    assert rows["azure-storage-blob"]["status"] == "GA"
    assert rows["azure-storage-blob"]["publisher_name"] == "Microsoft"
    assert "publisher from author email @microsoft.com" in rows["azure-storage-blob"]["rule"]
    assert rows["google-cloud-storage"]["publisher_name"] == "Google"


def test_search_still_works_and_shows_status_and_rule():
    rows, matched = catalogue.search("storage blob", "Azure", official_only=True)
    assert matched == len(rows) and any(r[1] == "azure-storage-blob" for r in rows)
    row = next(r for r in rows if r[1] == "azure-storage-blob")
    assert len(row) == 11 and row[8] == "GA" and row[9] == "Microsoft" and "@microsoft.com" in row[10]
    rows, _ = catalogue.search("deprecated", "AWS")
    assert rows and all("deprecated" in f"{r[1]} {r[2]} {r[8]}".lower() for r in rows)
    rows, _ = catalogue.search("cdk", "AWS", official_only=True)
    assert "aws-cdk-github-oidc" not in {r[1] for r in rows} and "aws-cdk-lib" in {r[1] for r in rows}


# --- The rules, on metadata dicts -----------------------------------------------------------------

@pytest.mark.parametrize("cloud, meta, want, why", [
    ("Azure", {"author_email": "@microsoft.com"}, "Microsoft", "author email @microsoft.com"),
    ("AWS", {"home_page": "https://github.com/aws/aws-cdk"}, "Amazon Web Services", "repository github.com/aws/aws-cdk"),
    ("Google Cloud", {"project_urls": ["Source, https://github.com/googleapis/python-storage"]}, "Google",
     "repository github.com/googleapis/python-storage"),
    ("AWS", {"author": "Amazon Web Services <@amazon.com>"}, "Amazon Web Services", "author @amazon.com"),
    ("Azure", {"author": "Microsoft Corp", "home_page": "https://docs.microsoft.com/python/"}, "Microsoft",
     "home page on docs.microsoft.com"),
])
def test_publisher_rules(cloud, meta, want, why):
    verdict, name, rule = bc.derive_publisher(cloud, meta)
    assert (verdict, name) == ("official", want) and why in rule


def test_publisher_rules_are_not_fooled_by_names():
    # A third party naming itself after the provider in the package name or summary is still community.
    verdict, name, rule = bc.derive_publisher("AWS", {"author": "Ari Palo <@aripalo.com>",
                                                      "summary": "AWS CDK constructs for AWS",
                                                      "home_page": "https://github.com/aripalo/aws-cdk-github-oidc"})
    assert verdict == "community" and name == "Ari Palo" and "github.com/aripalo" in rule
    assert bc.derive_publisher("Azure", {"author_email": "@microsoft.com.evil.example"})[0] == "community"
    assert bc.derive_publisher("Google Cloud", {"home_page": "https://github.com/googleapis-fan/x"})[0] == "community"


@pytest.mark.parametrize("meta, status, why", [
    ({"version": "1.0", "all_yanked": True}, "yanked", "every release is yanked"),
    ({"version": "2.0", "dev_status": "Development Status :: 7 - Inactive"}, "deprecated", "7 - Inactive"),
    ({"version": "2.0", "summary": "DEPRECATED: use azure-storage-blob"}, "deprecated", "summary"),
    ({"version": "2.0", "description_note": "This package has been deprecated"}, "deprecated", "description"),
    ({"version": "1.0.0b3"}, "preview", "pre-release"),
    ({"version": "1.2", "dev_status": "Development Status :: 4 - Beta"}, "preview", "4 - Beta"),
    ({"version": "1.2", "dev_status": "Development Status :: 5 - Production/Stable"}, "GA", "5 - Production"),
    ({"version": "1.2"}, "GA", "no Development Status classifier"),
    ({"missing": True}, "removed", "404"),
])
def test_status_rules(meta, status, why):
    got, rule = bc.derive_status(meta)
    assert got == status and why in rule


def test_description_notice_needs_a_sentence_about_this_package():
    assert bc.DEPRECATED_NOTICE.search("This package has been deprecated and will no longer be maintained")
    assert bc.DEPRECATED_NOTICE.search("The library is no longer maintained.")
    assert not bc.DEPRECATED_NOTICE.search("This replaces the deprecated azure-storage package.")


def test_compact_keeps_only_email_domains():
    meta = bc.compact({"name": "x", "author": "Jane Doe <jane@example.org>", "author_email": "a@b.com, c@d.org",
                       "maintainer": "", "all_yanked": False, "version": "1", "newest": "1"})
    assert meta == {"name": "x", "author": "Jane Doe <@example.org>", "author_email": "@b.com @d.org", "version": "1"}


def test_unchecked_rows_say_so_and_use_the_listing():
    row = {"cloud": "AWS", "name": "aws-thing", "version": "0.3b1", "summary": "A thing", "publisher": "community"}
    out = bc.apply_metadata(row, {})
    assert out["status"] == "preview" and "metadata not fetched" in out["rule"] and not out["checked"]
    out = bc.apply_metadata(dict(row, version="1.0", summary="Deprecated, use boto3"), {})
    assert out["status"] == "deprecated"


# --- The refresh, against a local index ------------------------------------------------------------

def _wheel(name: str, version: str, metadata: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{name}/big.bin", os.urandom(300_000), compress_type=zipfile.ZIP_STORED)  # makes range reads matter
        zf.writestr(f"{name}-{version}.dist-info/METADATA", metadata)
    return buf.getvalue()


@pytest.fixture
def local_index():
    """A tiny package index on 127.0.0.1: PEP 691 JSON pages and wheels with Range support."""
    meta = ("Metadata-Version: 2.1\nName: azure-fake\nVersion: 2.0.0\nSummary: Fake Azure client\n"
            "Author: Microsoft Corporation\nAuthor-email: azpysdkhelp@microsoft.com\n"
            "Classifier: Development Status :: 7 - Inactive\n\nThis package has been deprecated.\n")
    files = {"azure_fake-2.0.0-py3-none-any.whl": _wheel("azure_fake", "2.0.0", meta),
             "azure_fake-3.0.0-py3-none-any.whl": b"yanked"}
    served = {"bytes": 0, "requests": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            served["requests"].append((self.path, self.headers.get("Range")))
            base = f"http://127.0.0.1:{self.server.server_port}"
            if self.path == "/simple/azure-fake/":
                page = {"meta": {"api-version": "1.1"}, "name": "azure-fake", "versions": ["2.0.0", "3.0.0"],
                        "files": [{"filename": fn, "url": f"{base}/files/{fn}", "size": len(data),
                                   "yanked": fn.startswith("azure_fake-3") and "broken upload"}
                                  for fn, data in files.items()]}
                body, ctype, code = json.dumps(page).encode(), pypi_metadata.SIMPLE_JSON, 200
            elif self.path.startswith("/files/") and self.path[7:] in files:
                body, ctype, code = files[self.path[7:]], "application/octet-stream", 200
                if self.headers.get("Range"):
                    start, end = (int(x) for x in self.headers["Range"][6:].split("-"))
                    body, code = body[start:end + 1], 206
            else:
                body, ctype, code = b"", "text/plain", 404
            served["bytes"] += len(body)
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/simple/", served, len(files["azure_fake-2.0.0-py3-none-any.whl"])
    server.shutdown()
    server.server_close()


def test_fetch_reads_metadata_by_range_requests(local_index, monkeypatch):
    index, served, wheel_size = local_index
    monkeypatch.setattr(pypi_metadata, "INDEX", index)
    meta = bc.fetch_metadata("azure-fake", "2026-12-05")
    assert meta["version"] == "2.0.0" and meta["newest"] == "3.0.0"  # 3.0.0 is yanked: not the one shown
    assert meta["author_email"] == "@microsoft.com" and meta["metadata_from"].startswith("wheel METADATA")
    assert bc.derive_status(meta)[0] == "deprecated"
    assert served["bytes"] < wheel_size / 2, "only the zip directory and METADATA were read"
    assert all(rng for path, rng in served["requests"] if path.startswith("/files/"))
    missing = bc.fetch_metadata("no-such-package", "2026-12-05")
    assert missing["missing"] and bc.derive_status(missing)[0] == "removed"


def test_refresh_is_bounded_resumable_and_writes_the_snapshot(local_index, monkeypatch, tmp_path):
    index, _, _ = local_index
    monkeypatch.setattr(pypi_metadata, "INDEX", index)
    rows = [{"cloud": "Azure", "name": n, "version": "1.0", "released": "2026-01", "publisher": "official",
             "category": "Data plane & services", "packages": "1", "summary": "Microsoft Azure thing"}
            for n in ("azure-fake", "azure-gone", "azure-other")]
    cache_path = tmp_path / "cache.jsonl"
    cache = bc.refresh(rows, limit=2, workers=2, cache_path=cache_path, today="2026-12-05", log=lambda m: None)
    assert len(cache) == 2 and len(cache_path.read_text().splitlines()) == 2
    cache = bc.refresh(rows, limit=2, workers=2, cache_path=cache_path, today="2026-12-05", log=lambda m: None)
    assert len(cache) == 3 and len(cache_path.read_text().splitlines()) == 3  # resumed, nothing fetched twice
    out = tmp_path / "snap.csv"
    bc.write(rows, out, "2026-12-01", "3 packages")
    bc.main(["--refresh", "--offline", "--out", str(out), "--cache", str(cache_path)])
    snap = catalogue.load.__wrapped__(out)
    got = {r["name"]: r for r in snap.rows}
    assert got["azure-fake"]["status"] == "deprecated" and got["azure-fake"]["publisher_name"] == "Microsoft"
    assert got["azure-gone"]["status"] == "removed" and snap.checked.startswith("2026-12-05")


def test_refresh_is_operator_only_in_shared_mode(shared_mode, tmp_path):
    with pytest.raises(serving.RefusedInput, match="operator"):
        bc.refresh([], cache_path=tmp_path / "c.jsonl", fetch=lambda n, d: pytest.fail("fetched"))
