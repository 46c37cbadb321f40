"""Lab 8 · cloud_sdks: naming rules, secret scrubbing, the package snapshot, and the three SDKs run
for real against Azurite, moto's server and the GCS emulator (each started once for this module)."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from labs.cloud_sdks import build_catalogue, catalogue, clouds, credentials, emulators, naming, runner, steps

ROOT = Path(__file__).resolve().parents[1]
SENTINEL = "SENTINEL-9f3c2a7e-do-not-leak"  # must never appear in any output or log
SENTINEL_KEY = base64.b64encode(SENTINEL.encode()).decode()  # the form an Azure AccountKey takes


def _missing_emulators():
    return [emulators.SPECS[k].label for k in emulators.SPECS if not emulators.available(k)[0]]


needs_emulators = pytest.mark.skipif(bool(_missing_emulators()) or bool(runner.missing_distributions()),
                                     reason=f"emulators/SDKs missing: {_missing_emulators() + runner.missing_distributions()} "
                                            "(bash .ci/lab-cloud_sdks.sh and requirements/cloud_sdks.txt install them)")


@pytest.fixture(scope="module")
def pool():
    """Start the three emulators once for the module, stop them at the end."""
    if _missing_emulators():
        pytest.skip("emulators not installed")
    results = emulators.POOL.ensure(list(emulators.SPECS))
    failed = {k: v for k, v in results.items() if isinstance(v, Exception)}
    assert not failed, failed
    yield emulators.POOL
    emulators.POOL.stop_all()


# --- Naming rules ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, s3, azure, gcs", [
    ("ml-lab-demo", True, True, True),
    ("my.bucket.v2", True, False, True),       # dots: fine on S3/GCS, never in an Azure container
    ("my_bucket", False, False, True),         # underscores: only GCS
    ("My-Bucket", False, False, False),        # upper case: nowhere
    ("a--b", True, False, True),               # Azure wants every hyphen between letters/digits
    ("ab", False, False, False),               # too short everywhere
    ("x" * 64, False, False, False),           # too long everywhere
    ("192.168.1.10", False, False, False),     # looks like an IP address (Azure: dots)
    ("xn--bucket", False, False, True),        # S3 reserved prefix
    ("google-models", True, True, False),      # GCS forbids 'google'
    ("goog-models", True, True, False),        # ... and the 'goog' prefix
    ("data-s3alias", False, True, True),       # S3 reserved suffix
    ("-start", False, False, False),
])
def test_bucket_naming_rules(name, s3, azure, gcs):
    assert (not naming.s3_bucket_problems(name)) is s3
    assert (not naming.azure_container_problems(name)) is azure
    assert (not naming.gcs_bucket_problems(name)) is gcs


def test_queue_and_object_names():
    assert not naming.sqs_queue_problems("jobs_queue-1") and not naming.sqs_queue_problems("jobs.fifo")
    assert naming.sqs_queue_problems("x" * 81) and naming.sqs_queue_problems("has space")
    assert naming.azure_queue_problems("Jobs")
    assert not naming.object_name_problems("hello/model-card.md")
    for bad in ("", "..", "a\nb", "x" * 1025, "é" * 600):
        assert naming.object_name_problems(bad), bad


@pytest.mark.parametrize("name", ["My_Bucket.2024", "Google Models!", "goog", "a", "--x--", "192.168.0.1", "ÄÖÜ"])
def test_suggest_gives_a_name_every_cloud_accepts(name):
    suggestion = naming.suggest(name)
    assert not any(rule(suggestion) for rule in naming.BUCKET_RULES.values()), suggestion


def test_require_valid_lists_every_broken_rule_and_a_fix():
    with pytest.raises(naming.NamingError) as info:
        naming.require_valid("My_Bucket", naming.BUCKET_RULES, "bucket")
    message = str(info.value)
    assert "Amazon S3 bucket" in message and "Azure Blob container" in message and "Try 'my-bucket'" in message


# --- Secrets ------------------------------------------------------------------------------------

def test_scrub_removes_secrets_in_every_form():
    secret = "abc/def+ghi=="
    text = (f"key {secret} url {secret.replace('/', '%2F').replace('+', '%2B').replace('=', '%3D')} "
            f"AccountKey={SENTINEL_KEY};x https://h/b?sig=SIGVALUE&sp=r "
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- X-Amz-Signature=deadbeef")
    out = credentials.scrub(text, [secret])
    for leaked in (secret, "abc%2Fdef", SENTINEL_KEY, "SIGVALUE", "MIIE", "deadbeef"):
        assert leaked not in out, leaked
    assert "sp=r" in out  # non-secret parts stay readable


def test_credentials_repr_hides_secrets_and_secrets_lists_parts():
    creds = credentials.Credentials(azure_connection_string=f"AccountName=a;AccountKey={SENTINEL_KEY}",
                                    aws_access_key_id="AKIA" + SENTINEL, aws_secret_access_key=SENTINEL,
                                    aws_region="eu-west-1")
    assert SENTINEL not in repr(creds) and SENTINEL_KEY not in repr(creds) and "eu-west-1" in repr(creds)
    assert SENTINEL_KEY in creds.secrets() and SENTINEL in creds.secrets()


@pytest.mark.parametrize("kwargs, match", [
    ({"azure_connection_string": "just some text"}, "AccountName and AccountKey"),
    ({"azure_connection_string": "AccountName=a;AccountKey=not base64!!"}, "not valid base64"),
    ({"azure_connection_string": "UseDevelopmentStorage=true"}, "leave the field empty"),
])
def test_bad_azure_connection_strings_are_clear_and_secret_free(kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        credentials.azure_target(credentials.Credentials(**kwargs))
    assert "not base64!!" not in str(info.value)


def test_bad_aws_and_gcp_credentials_are_clear():
    with pytest.raises(ValueError, match="both the AWS access key id and the secret"):
        credentials.aws_target(credentials.Credentials(aws_access_key_id="AKIAXXXX"))
    with pytest.raises(ValueError, match="not an AWS region"):
        credentials.aws_target(credentials.Credentials(aws_access_key_id="a", aws_secret_access_key="b",
                                                       aws_region="Frankfurt"))
    with pytest.raises(ValueError, match="not valid JSON") as info:
        credentials.gcp_target(credentials.Credentials(gcp_service_account_json="{" + SENTINEL))
    assert SENTINEL not in str(info.value)
    with pytest.raises(ValueError, match="service-account key file"):
        credentials.gcp_target(credentials.Credentials(gcp_service_account_json='{"type": "authorized_user"}'))


def test_environment_credentials_are_opt_in(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SENTINEL)
    assert runner._uses_emulator(credentials.Credentials(), "AWS")
    target = credentials.aws_target(credentials.Credentials(use_environment=True))
    assert target.kind == "cloud" and "default credential chain" in target.description
    assert "aws_access_key_id" not in target.client_kwargs()  # boto3 resolves the chain itself


# --- Inputs -------------------------------------------------------------------------------------

def test_payload_limits(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (runner.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(runner.InputError, match="at most 5 MB"):
        runner.read_payload("", str(big))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(runner.InputError, match="empty"):
        runner.read_payload("", str(empty))
    with pytest.raises(runner.InputError, match="Nothing to upload"):
        runner.read_payload("", None)
    assert runner.read_payload("héllo", None) == ("héllo".encode(), "text")
    with pytest.raises(runner.InputError, match="limit"):
        runner.run_storage(credentials.Credentials(), "ml-lab-demo", "x", b"\0" * (runner.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(runner.InputError, match="at most"):
        runner.run_queues(credentials.Credentials(), "q-name", ["m"] * (runner.MAX_MESSAGES + 1))


def test_an_empty_cloud_selection_is_refused_not_read_as_all():
    # Unticking every cloud must not run all three (None, the default, still means all).
    for run, args in ((runner.run_storage, ("ml-lab-demo", "a.txt", b"x")), (runner.run_queues, ("q-name", ["m"]))):
        with pytest.raises(runner.InputError, match="Pick at least one cloud"):
            run(credentials.Credentials(), *args, clouds=[])
    assert runner._pick_clouds(None) == list(runner.CLOUDS)


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/./b", "models/v1./card.md"])
def test_object_names_with_dot_segments_are_refused_before_any_call(name):
    # Azure refuses a path segment ending in '.', and '.' / '..' segments break signed URLs; the
    # Cloud Storage emulator even hangs on them until the SDK's retry gives up.
    assert any("path segment" in p for p in naming.object_name_problems(name))
    with pytest.raises(naming.NamingError, match="path segment"):
        runner.run_storage(credentials.Credentials(), "ml-lab-demo", name, b"x")
    assert not naming.object_name_problems("models/v1.2/card.md")


# --- Package snapshot, botocore coverage, facts -------------------------------------------------

def test_snapshot_loads_with_a_date_and_plausible_counts():
    snap = catalogue.load()
    assert len(snap.date) == 10 and snap.date[4] == "-"
    counts = catalogue.counts(snap)
    assert counts["Azure"]["packages"] >= 300 and counts["Azure"]["official"] >= 200
    assert counts["Google Cloud"]["packages"] >= 200 and counts["Google Cloud"]["official"] >= 150
    assert counts["AWS"]["packages"] >= 1000  # boto3 stubs and CDK families alone are hundreds each
    by_name = {r["name"]: r for r in snap.rows}
    for name, cloud in (("azure-storage-blob", "Azure"), ("azure-identity", "Azure"), ("boto3", "AWS"),
                        ("google-cloud-storage", "Google Cloud"), ("azure-ai-ml", "Azure")):
        assert by_name[name]["cloud"] == cloud and by_name[name]["publisher"] == "official", name
    assert by_name["azure-mgmt-compute"]["category"] == "Management (control plane)"
    assert by_name["azure-ai-ml"]["category"] == "AI / ML"
    assert int(by_name["mypy-boto3-*"]["packages"]) > 100


def test_search_filters_and_marks_installed():
    rows, matched = catalogue.search("storage blob", "Azure", official_only=True)
    assert matched == len(rows) and any(r[1] == "azure-storage-blob" for r in rows)
    assert all(r[0] == "Azure" and r[4] == "official" for r in rows)
    rows, _ = catalogue.search("", "All", installed_only=True)
    names = {r[1] for r in rows}
    assert "boto3" in names and all(r[7] == "yes" for r in rows)
    rows, matched = catalogue.search("", "AWS", limit=10)
    assert len(rows) == 10 and matched > 10
    with pytest.raises(ValueError, match="Unknown cloud"):
        catalogue.search("", "Oracle")


def test_build_catalogue_from_a_small_listing(tmp_path):
    listing = tmp_path / "listing.tsv"
    lines = ["name\tversion\tmonth\trank\tsummary",
             "azure-storage-blob\t12.0\t2026-10\t269\tMicrosoft Azure Blob Storage Client Library for Python",
             "azure-mgmt-compute\t30.0\t2026-09\t\tMicrosoft Azure Compute Management Client Library for Python",
             "azure-helper\t0.1\t2019-01\t\tLibrary to allow easier use of Microsoft Azure APIM",
             "boto3\t1.40\t2026-11\t1\tThe AWS SDK for Python",
             "google-cloud-aiplatform\t1.100\t2026-11\t\tVertex AI API client library",
             "numpy\t2.4\t2026-10\t1\tFundamental package for array computing"]
    lines += [f"mypy-boto3-svc{i}\t1.0\t2026-0{1 + i % 9}\t\tType annotations" for i in range(30)]
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "snap.csv"
    build_catalogue.main([str(listing), "--out", str(out), "--date", "2026-01-02"])
    snap = catalogue.load.__wrapped__(out)
    assert snap.date == "2026-01-02"
    rows = {r["name"]: r for r in snap.rows}
    assert "numpy" not in rows
    assert rows["azure-helper"]["publisher"] == "community"
    assert rows["azure-mgmt-compute"]["category"] == "Management (control plane)"
    assert rows["google-cloud-aiplatform"]["category"] == "AI / ML"
    assert rows["mypy-boto3-*"]["packages"] == "30" and rows["mypy-boto3-*"]["released"] == "2026-09"


def test_aws_service_coverage_from_botocore():
    rows, total, version = catalogue.aws_services()
    names = {r[0] for r in rows}
    assert total > 300 and {"s3", "sqs", "sagemaker", "bedrock-runtime"} <= names and version
    assert dict(rows)["sagemaker"] == "ML / AI"
    detail = catalogue.aws_service_detail("s3")
    assert "Amazon Simple Storage Service" in detail and "`rest-xml`" in detail and "abort_multipart_upload" in detail
    with pytest.raises(ValueError, match="no service called"):
        catalogue.aws_service_detail("nope")


def test_price_table_and_credential_chains():
    rows = clouds.price_rows()
    assert {r[0] for r in rows} == {"Azure", "AWS", "Google Cloud"}
    for r in rows:
        assert r[5] == pytest.approx(r[4] / r[2], abs=1e-3)
    assert [f.name for f in clouds.FACTS] == ["Azure", "AWS", "Google Cloud"]
    caption = clouds.price_caption()
    assert clouds.PRICES_AS_OF in caption and "may be stale" in caption and "provider's pricing page" in caption
    assert clouds.cheapest_per_gpu("H100")[0][2] <= clouds.cheapest_per_gpu("H100")[-1][2]
    chains = clouds.credential_chains()
    assert "EnvironmentCredential" in chains and "ManagedIdentityCredential" in chains
    assert "`env`" in chains and "`iam-role`" in chains and "google.auth.default()" in chains


# --- Emulators ----------------------------------------------------------------------------------

def test_port_in_use_picks_another():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ports, notes = emulators.pick_ports((port,))
        assert ports[0] != port and f"port {port} was in use" in notes[0]


@needs_emulators
def test_emulator_on_a_taken_port_starts_elsewhere_and_stops(monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setitem(emulators.SPECS, "gcs", dataclasses.replace(emulators.GCS, ports=(port,)))
        emu = emulators.start("gcs")
        try:
            assert emu.ports[0] != port and emu.notes and emu.alive()
            assert steps.http_get(f"{emu.endpoint}/storage/v1/b?project=p")[0] == 200
        finally:
            emu.stop()
        assert not emu.alive()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", emu.ports[0]), timeout=1).close()


def test_missing_emulator_says_how_to_install(monkeypatch):
    monkeypatch.setattr(emulators, "azurite_binary", lambda: None)
    ok, note = emulators.available("azurite")
    assert not ok and "npm install" in note
    with pytest.raises(emulators.EmulatorError, match="npm install --prefix .ci azurite"):
        emulators.start("azurite")


@needs_emulators
def test_emulators_die_with_their_parent(tmp_path):
    """A server killed with SIGKILL (no exit hooks) still takes its emulators down."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from labs.cloud_sdks import emulators
        emu = emulators.start("gcs")
        print(emu.ports[0], flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    assert steps.http_get(f"http://127.0.0.1:{port}/storage/v1/b?project=p")[0] == 200
    proc.kill()
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            time.sleep(0.3)
        except OSError:
            break
    else:
        pytest.fail("the emulator outlived its parent")


# --- The SDKs against the emulators ------------------------------------------------------------

@needs_emulators
def test_storage_runs_on_all_three_emulators(pool):
    result = runner.run_storage(credentials.Credentials(), "ml-lab-test", "dir/hello.txt", b"hello clouds")
    assert not result.failures, result.failures
    for cloud in runner.CLOUDS:
        ops = {s.operation: s for s in result.steps if s.cloud == cloud}
        assert len(ops) == 8 and all(s.ok for s in ops.values()), cloud
        assert "(local emulator)" in result.targets[cloud]
        assert next(s for s in ops.values() if s.operation.split()[0] in ("download", "get")).result.endswith("identical")
        assert next(s for s in ops.values() if s.operation.startswith("fetch signed")).result.startswith("HTTP 200")
    forged = {s.cloud: s.result for s in result.steps if s.operation.startswith("fetch forged")}
    assert forged["Azure"].startswith("HTTP 403"), forged  # Azurite checks SAS signatures
    assert "does not check signatures" in forged["AWS"]  # moto does not: the lab says so
    assert result.summary().count("all OK") == 3
    # Everything was deleted again.
    name = result.names["AWS"]
    import boto3

    s3 = boto3.client("s3", endpoint_url=pool.get("moto").endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@needs_emulators
def test_queues_run_on_azurite_moto_and_the_pubsub_stand_in(pool, monkeypatch):
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    result = runner.run_queues(credentials.Credentials(), "ml-lab-jobs", ["a", "b", "c"], clouds=["Azure", "AWS", "Google Cloud"])
    assert not result.failures, result.failures
    for cloud in ("Azure", "AWS"):
        processed = next(s.result for s in result.steps if s.cloud == cloud and s.operation == "receive + delete each")
        assert processed.startswith("processed 3")
        left = next(s.result for s in result.steps if s.cloud == cloud and s.operation == "check empty")
        assert left.startswith("approximately 0")
    pulled = next(s.result for s in result.steps if s.cloud == "Google Cloud" and s.operation == "pull + ack each")
    assert pulled == "processed 3: a, b, c"
    assert "Pub/Sub stand-in" in result.targets["Google Cloud"] and "127.0.0.1:" in result.targets["Google Cloud"]
    assert result.summary().count("all OK") == 3


@needs_emulators
def test_wrong_azure_key_gives_the_sdk_message_without_the_secret(pool, caplog, capfd):
    blob = pool.get("azurite").ports[0]
    conn = (f"DefaultEndpointsProtocol=http;AccountName={emulators.AZURITE_ACCOUNT};AccountKey={SENTINEL_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{blob}/{emulators.AZURITE_ACCOUNT};")
    creds = credentials.Credentials(azure_connection_string=conn, aws_access_key_id="AKIA" + SENTINEL[:8],
                                    aws_secret_access_key=SENTINEL, aws_endpoint_url=pool.get("moto").endpoint)
    with caplog.at_level(logging.DEBUG):
        result = runner.run_storage(creds, "ml-lab-secret", "a.txt", b"x", clouds=["Azure", "AWS"])
    assert "authenticate" in result.failures["Azure"] or "AuthorizationFailure" in result.failures["Azure"]
    assert "you typed" in result.targets["Azure"] and "endpoint http://127.0.0.1" in result.targets["AWS"]
    assert "AWS" not in result.failures  # moto accepts any key: the same code ran with the typed one
    presigned = next(s.result for s in result.steps if s.cloud == "AWS" and s.operation.startswith("make presigned"))
    assert "X-Amz-Signature=***" in presigned and "X-Amz-Credential=***" in presigned
    everything = json.dumps([result.table(), result.summary(), result.failures, result.targets])
    captured = capfd.readouterr()
    for blob_of_text in (everything, caplog.text, captured.out, captured.err):
        assert SENTINEL not in blob_of_text and SENTINEL_KEY not in blob_of_text


@needs_emulators
def test_a_missing_emulator_fails_only_its_cloud(monkeypatch):
    pool = emulators.EmulatorPool()
    monkeypatch.setattr(emulators, "POOL", pool)
    monkeypatch.setattr(emulators, "azurite_binary", lambda: None)
    try:
        result = runner.run_storage(credentials.Credentials(), "ml-lab-missing", "a.txt", b"x", clouds=["Azure", "Google Cloud"])
    finally:
        pool.stop_all()
    assert "npm install" in result.failures["Azure"]
    assert "Google Cloud" not in result.failures and "❌" in result.summary()


BAD_PER_CLOUD = dict(azure_connection_string="AccountName=a;AccountKey=" + SENTINEL + "!!",  # not base64
                     aws_access_key_id="AKIA" + SENTINEL[:8], aws_secret_access_key=SENTINEL, aws_region="Narnia")


def test_bad_credentials_for_one_cloud_fail_only_that_cloud():
    """A non-base64 AccountKey and a bad region are recorded per cloud (scrubbed); the run does not abort."""
    result = runner.run_storage(credentials.Credentials(**BAD_PER_CLOUD), "ml-lab-bad", "a.txt", b"x",
                                clouds=["Azure", "AWS"])
    assert "not valid base64" in result.failures["Azure"] and "not an AWS region" in result.failures["AWS"]
    assert not result.steps and not result.targets
    summary = result.summary()
    assert summary.count("❌") == 2 and "no target" in summary
    assert SENTINEL not in json.dumps([summary, result.failures])


@needs_emulators
def test_bad_credentials_for_two_clouds_and_the_third_still_runs(pool):
    result = runner.run_storage(credentials.Credentials(**BAD_PER_CLOUD), "ml-lab-bad", "a.txt", b"x")
    assert set(result.failures) == {"Azure", "AWS"}
    assert "(local emulator)" in result.targets["Google Cloud"]
    gcs = [s for s in result.steps if s.cloud == "Google Cloud"]
    assert len(gcs) == 8 and all(s.ok for s in gcs)
    assert result.summary().count("all OK") == 1 and SENTINEL not in result.summary()


# --- The app ------------------------------------------------------------------------------------

def test_app_builds_alone_without_importing_cloud_sdks():
    code = ("import sys, json; import labs.cloud_sdks.app as a;"
            "print(json.dumps([[m for m in ('boto3','azure','google.cloud','moto') if m in sys.modules],"
            " [fn.api_name for fn in a.demo.fns.values()]]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180,
                         env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert out.returncode == 0, out.stderr[-2000:]
    loaded, names = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [] and all(n.startswith("cloud_sdks_") for n in names)
    assert {"cloud_sdks_run_storage", "cloud_sdks_run_queues", "cloud_sdks_check_name"} <= set(names)


CRED_BLANK = ["", "", "", "", "", "", "", "", False]


@needs_emulators
def test_end_to_end_through_gradio_client(client_for, pool, tmp_path, capfd):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from labs.cloud_sdks import app

    client = client_for(app.demo)
    summary, table, status = client.predict(list(runner.CLOUDS), "ml-lab-e2e", True, "hello/model-card.md",
                                            "hello", None, *CRED_BLANK, api_name="/cloud_sdks_run_storage")
    assert summary.count("all OK") == 3 and len(table["data"]) == 24
    assert all("running" not in row[3] or "127.0.0.1" in row[3] for row in status["data"])

    verdict, rows = client.predict("My_Bucket", api_name="/cloud_sdks_check_name")
    assert "my-bucket" in verdict and rows["data"][1][1] == "invalid"

    counts, libs = client.predict("storage", "Google Cloud", "All", True, False, api_name="/cloud_sdks_search_libraries")
    assert "Google Cloud" in counts and any(r[1] == "google-cloud-storage" for r in libs["data"])

    with pytest.raises(AppError, match="cannot be used as a bucket/container name"):
        client.predict(["AWS"], "Bad_Name", False, "x", "hello", None, *CRED_BLANK, api_name="/cloud_sdks_run_storage")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (runner.MAX_UPLOAD_BYTES + 10))
    with pytest.raises(AppError, match="at most 5 MB"):
        client.predict(["AWS"], "ml-lab-e2e", True, "x", "", handle_file(str(big)), *CRED_BLANK,
                       api_name="/cloud_sdks_run_storage")
    # A bad credential fails its own cloud only: the row says why, the others still run.
    bad_azure, bad_table, _ = client.predict(["Azure", "AWS"], "ml-lab-e2e", True, "x", "hi", None,
                                             "AccountName=a;AccountKey=" + SENTINEL, *CRED_BLANK[1:],
                                             api_name="/cloud_sdks_run_storage")
    assert "not valid base64" in bad_azure and bad_azure.count("all OK") == 1 and SENTINEL not in bad_azure
    assert {row[0] for row in bad_table["data"]} == {"AWS"}

    # A typed secret goes in, the run works against moto, and the secret comes out nowhere.
    out = client.predict(["AWS"], "ml-lab-e2e", True, "x", "hi", None, "", "AKIASENTINEL", SENTINEL, "",
                         pool.get("moto").endpoint, "", "", "", False, api_name="/cloud_sdks_run_storage")
    assert "all OK" in out[0] and "with the access key you typed" in out[0]
    queue_summary, queue_table, _ = client.predict(["Azure", "AWS"], "ml-lab-e2e-q", True, "job 1\njob 2",
                                                   *CRED_BLANK, api_name="/cloud_sdks_run_queues")
    assert queue_summary.count("all OK") == 2
    captured = capfd.readouterr()
    assert SENTINEL not in json.dumps(out) + captured.out + captured.err


def test_tamper_keeps_the_signature_well_formed():
    from labs.cloud_sdks.steps import tamper

    url = "http://h/c/b?sv=1&sig=abc%2Bdef%3D&se=2"
    forged = tamper(url, "sig")
    assert forged == "http://h/c/b?sv=1&sig=bbc%2Bdef%3D&se=2"
    assert tamper("http://h/o?X-Amz-Signature=0f3a", "X-Amz-Signature").endswith("=1f3a")
    assert tamper("http://h/o?X-Goog-Signature=1f3a", "X-Goog-Signature").endswith("=2f3a")
