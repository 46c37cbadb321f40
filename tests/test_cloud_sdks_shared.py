"""Lab 8 · cloud_sdks in shared mode: a hostile visitor replayed against the lab's logic and its API.

Every test plants fake operator credentials (`operator_secrets`) and stands a recording listener
(`recorder`) in for the visitor's host, plus a second one for a cloud metadata service. The
attacks: tick "use the server environment", point an endpoint (typed or inside an Azure
connection string) at a private address, leave the keys empty beside an endpoint, follow a
redirect into the server's network, read a remote reply through an error message, stop the
shared emulators, and send boxes far larger than the lab needs. Each must get a one-line
refusal, no request may reach the recorders, and no fake secret may appear anywhere.
"""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from labs.cloud_sdks import catalogue, credentials, emulators, naming, runner, steps
from shared import serving
from tests.hostile import Recorder, leaked_secrets, no_secret_in, reachable_peer

Credentials = credentials.Credentials
VISITOR_KEY_ID = "AKIAVISITORKEY000001"  # the visitor's own (fake) AWS key, which may go to the visitor's host
VISITOR_SECRET = "visitor-aws-secret-0123456789"
VISITOR_AZURE_KEY = base64.b64encode(b"visitor-azure-account-key-0123").decode()
INTERNAL = "operator-internal-page"  # what the recorders answer: must never be shown to the visitor
USE_ENV = "not available on a shared server"


@pytest.fixture
def metadata():
    """A second listener standing in for the cloud metadata service (169.254.169.254)."""
    rec = Recorder(reply=b'{"AccessKeyId": "AKIAOPERATORFAKE0001", "Note": "operator-internal-page"}',
                   content_type="application/json")
    yield rec
    rec.close()


@pytest.fixture
def hostile(shared_mode, operator_secrets):
    """Shared mode with the operator's fake credentials in the environment."""
    return operator_secrets


@pytest.fixture
def passes_check(monkeypatch, recorder):
    """Let `recorder` pass `serving.check_endpoint` as if its name had resolved to a public address.

    The SDK's own connection still lands on 127.0.0.1, as with DNS rebinding. Every other URL (a
    redirect to the metadata listener included) still gets the real check.
    """
    real = serving.check_endpoint
    allowed = urllib.parse.urlsplit(recorder.url).netloc

    def check(url, *, what="endpoint", schemes=("https", "http"), shared=None):
        if urllib.parse.urlsplit((url or "").strip()).netloc == allowed:
            return url.strip()
        return real(url, what=what, schemes=schemes, shared=shared)

    monkeypatch.setattr(serving, "check_endpoint", check)
    return recorder


@pytest.fixture
def public(monkeypatch, passes_check):
    """Let `recorder` stand for a public visitor host: it passes the endpoint check, and a
    connection to it passes the connected-peer check (`shared.egress`)."""
    reachable_peer(monkeypatch, passes_check.url)
    return passes_check


@pytest.fixture
def no_emulators(monkeypatch):
    """Fail the test if anything tries to start an emulator (refusals come before that)."""
    def boom(*_a, **_k):
        raise AssertionError("an emulator was started for a refused request")

    monkeypatch.setattr(emulators.POOL, "get", boom)
    monkeypatch.setattr(emulators.POOL, "ensure", boom)


def azure_conn(**endpoints: str) -> str:
    """A connection string with the visitor's own account key and the given endpoint keys."""
    parts = {"DefaultEndpointsProtocol": "http", "AccountName": "visitoracct", "AccountKey": VISITOR_AZURE_KEY,
             **endpoints}
    return ";".join(f"{k}={v}" for k, v in parts.items())


def visitor_azure(url: str) -> str:
    """The visitor's connection string with both endpoints (blob for storage, queue for queues) at `url`."""
    return azure_conn(BlobEndpoint=url + "visitoracct", QueueEndpoint=url + "visitoracct")


def visitor_service_account(token_uri: str = credentials.GOOGLE_TOKEN_URIS[0]) -> str:
    """A service-account key file as a visitor would paste it (a fresh RSA key, fake email)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": "visitor-project", "private_key_id": "visitorkeyid",
                       "private_key": pem, "client_email": "visitor@visitor-project.iam.gserviceaccount.com",
                       "token_uri": token_uri})


def texts_of(result: runner.RunResult) -> list[str]:
    return [result.summary(), json.dumps(result.table()), json.dumps(result.failures), json.dumps(result.targets)]


# --- 1. The server's environment is never lent -------------------------------------------------

@pytest.mark.parametrize("task", ["storage", "queues"])
def test_use_env_is_refused_before_anything_runs(hostile, recorder, metadata, no_emulators, task):
    creds = Credentials(use_environment=True, aws_endpoint_url=recorder.url, gcp_endpoint_url=recorder.url)
    with pytest.raises(serving.RefusedInput, match=USE_ENV) as info:
        if task == "storage":
            runner.run_storage(creds, "ml-lab-demo", "a.txt", b"x")
        else:
            runner.run_queues(creds, "ml-lab-jobs", ["a"])
    assert recorder.seen == [] and metadata.seen == []
    no_secret_in([str(info.value)])


@pytest.mark.parametrize("target", [credentials.azure_target, credentials.aws_target, credentials.gcp_target])
def test_every_target_refuses_the_environment_on_its_own(hostile, no_emulators, target):
    # Defence in depth: the target functions refuse too, not only the run's first check.
    with pytest.raises(serving.RefusedInput, match=USE_ENV):
        target(Credentials(use_environment=True))


def test_sdk_clients_never_fall_back_to_default_chains(hostile):
    """A real (non-emulator) target without typed keys is refused when its SDK client is built."""
    with pytest.raises(serving.RefusedInput, match=USE_ENV):
        credentials.AwsTarget("cloud", "x", "us-east-1").client_kwargs()
    with pytest.raises(serving.RefusedInput, match=USE_ENV):
        credentials.AzureTarget("cloud", "x", account_url="https://operatorfake.blob.core.windows.net").client_kwargs()
    with pytest.raises(serving.RefusedInput, match=USE_ENV):
        credentials.GcpTarget("cloud", "x", "p").client_kwargs(None)
    # Typed keys: passed explicitly, with no session token, short timeouts and no env-configured endpoint.
    kwargs = credentials.AwsTarget("cloud", "x", "us-east-1", None, VISITOR_KEY_ID, VISITOR_SECRET).client_kwargs()
    assert kwargs["aws_access_key_id"] == VISITOR_KEY_ID and "aws_session_token" not in kwargs
    assert kwargs["config"].ignore_configured_endpoint_urls and kwargs["config"].connect_timeout <= 5


@pytest.mark.parametrize("field, match", [
    ("aws_endpoint_url", "S3/SQS endpoint override is used only with an access key"),
    ("gcp_endpoint_url", "Cloud Storage endpoint override is used only with a service-account key"),
])
def test_an_endpoint_without_a_typed_key_is_refused(hostile, public, metadata, no_emulators, field, match):
    # Even a host that passes the address check: boto3 / google.auth.default() would sign with the server's keys.
    with pytest.raises(serving.RefusedInput, match=match) as info:
        runner.run_storage(Credentials(**{field: public.url}), "ml-lab-demo", "a.txt", b"x")
    assert public.seen == [] and metadata.seen == []
    no_secret_in([str(info.value)])


def test_operator_credentials_never_reach_a_host_that_passes_the_check(hostile, public, metadata):
    """With the visitor's host accepted as public: use_env / empty keys are refused, and what the
    visitor's own keys send carries only the visitor's keys, never the operator's."""
    for creds in (Credentials(use_environment=True, aws_endpoint_url=public.url, gcp_endpoint_url=public.url),
                  Credentials(aws_endpoint_url=public.url), Credentials(gcp_endpoint_url=public.url)):
        with pytest.raises(serving.RefusedInput):
            runner.run_storage(creds, "ml-lab-demo", "a.txt", b"x", clouds=["AWS", "Google Cloud"])
    assert public.seen == []
    # Now the visitor's own keys, towards the visitor's own host: the requests do reach it...
    creds = Credentials(aws_access_key_id=VISITOR_KEY_ID, aws_secret_access_key=VISITOR_SECRET,
                        aws_endpoint_url=public.url,
                        azure_connection_string=visitor_azure(public.url))
    result = runner.run_storage(creds, "ml-lab-demo", "a.txt", b"hello", clouds=["Azure", "AWS"])
    seen = public.all_text()
    assert public.seen and VISITOR_KEY_ID in seen  # SigV4 Authorization headers name the key that signed
    # ...but nothing of the operator's: no AWS key id or session token, no Azure key, no metadata call.
    assert "AKIAOPERATORFAKE0001" not in seen and leaked_secrets(seen) == []
    assert metadata.seen == []
    no_secret_in(texts_of(result))
    assert INTERNAL not in json.dumps(texts_of(result))  # the host's reply text is not echoed


def test_a_google_key_for_the_visitors_host_sends_only_the_visitors_token(hostile, public, metadata, monkeypatch):
    from google.oauth2 import service_account

    def fake_refresh(self, request):  # no network here: pretend Google issued the visitor a token
        self.token = "visitor-google-token"

    monkeypatch.setattr(service_account.Credentials, "refresh", fake_refresh)
    creds = Credentials(gcp_service_account_json=visitor_service_account(), gcp_endpoint_url=public.url)
    result = runner.run_storage(creds, "ml-lab-demo", "a.txt", b"hello", clouds=["Google Cloud"])
    seen = public.all_text()
    assert public.seen and "visitor-google-token" in seen
    assert leaked_secrets(seen) == [] and metadata.seen == []
    assert "Google Cloud" in result.failures  # the recorder is no Cloud Storage
    no_secret_in(texts_of(result))
    assert INTERNAL not in json.dumps(texts_of(result))


# --- 2. Endpoints a visitor types (or hides in a connection string) --------------------------

def private_endpoint_cases(recorder_url: str, metadata_url: str) -> list[tuple[Credentials, str]]:
    keys = dict(aws_access_key_id=VISITOR_KEY_ID, aws_secret_access_key=VISITOR_SECRET)
    return [
        (Credentials(aws_endpoint_url=recorder_url, **keys), "loopback"),
        (Credentials(aws_endpoint_url="http://169.254.169.254/latest/meta-data/", **keys), "link-local"),
        (Credentials(aws_endpoint_url="http://10.1.2.3:9000", **keys), "private"),
        (Credentials(gcp_service_account_json=visitor_service_account(), gcp_endpoint_url=metadata_url), "loopback"),
        (Credentials(azure_connection_string=azure_conn(BlobEndpoint=recorder_url + "visitoracct")), "loopback"),
        (Credentials(azure_connection_string=azure_conn(QueueEndpoint=metadata_url)), "loopback"),
        (Credentials(azure_connection_string=azure_conn(BlobSecondaryEndpoint="http://169.254.169.254/")), "link-local"),
        (Credentials(azure_connection_string=azure_conn(EndpointSuffix="internal.nip.test")), "loopback"),
    ]


def test_private_endpoints_are_refused_everywhere(hostile, recorder, metadata, no_emulators, monkeypatch):
    real_resolve = serving._resolve

    def resolve(host, port):  # no DNS here: Azure's own names are public, *.nip.test points into the server
        if host.endswith(".core.windows.net"):
            return ["20.60.0.1"]
        return ["127.0.0.1"] if host.endswith(".nip.test") else real_resolve(host, port)

    monkeypatch.setattr(serving, "_resolve", resolve)
    for creds, why in private_endpoint_cases(recorder.url, metadata.url):
        for run in (lambda: runner.run_storage(creds, "ml-lab-demo", "a.txt", b"x"),
                    lambda: runner.run_queues(creds, "ml-lab-jobs", ["a"])):
            with pytest.raises(serving.RefusedInput, match=f"resolves to a {why}") as info:
                run()
            message = str(info.value)
            assert "\n" not in message and "shared server does not connect" in message
            no_secret_in([message])
    assert recorder.seen == [] and metadata.seen == []


@pytest.mark.parametrize("conn, match", [
    ("DefaultEndpointsProtocol=https;AccountName=x@127.0.0.1/;AccountKey=" + VISITOR_AZURE_KEY, "AccountName must be"),
    (azure_conn(EndpointSuffix="evil.example/x@127.0.0.1"), "EndpointSuffix must be a DNS name"),
    (azure_conn(**{"BlobEndpo\u0131nt": "http://127.0.0.1:10000/x"}), "plain ASCII"),  # the SDK upper()s 'ı' to 'I'
    (azure_conn() + "; BlobEndpoint=http://127.0.0.1:1/x", "without spaces"),
    (azure_conn(BlobEndpoint="https://a.example") + ";blobendpoint=http://127.0.0.1:1/", "twice"),
    (azure_conn(DefaultEndpointsProtocol="file"), "must be https or http"),
])
def test_connection_strings_the_sdk_would_read_differently_are_refused(hostile, recorder, no_emulators, conn, match):
    with pytest.raises(serving.RefusedInput, match=match) as info:
        runner.run_storage(Credentials(azure_connection_string=conn), "ml-lab-demo", "a.txt", b"x", clouds=["Azure"])
    assert VISITOR_AZURE_KEY not in str(info.value) and recorder.seen == []


def test_azure_endpoints_cover_what_the_sdk_builds(hostile):
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    for conn in (azure_conn(), azure_conn(EndpointSuffix="core.chinacloudapi.cn"),
                 azure_conn(BlobEndpoint="https://blob.example.org/acct", QueueEndpoint="https://q.example.org/acct")):
        urls = {urllib.parse.urlsplit(u).netloc for u in credentials.azure_endpoints(conn)}
        assert urllib.parse.urlsplit(BlobServiceClient.from_connection_string(conn).url).netloc in urls
        assert urllib.parse.urlsplit(QueueServiceClient.from_connection_string(conn).url).netloc in urls


def test_google_keys_must_use_googles_token_endpoint(hostile, recorder, no_emulators):
    # google-auth POSTs a signed assertion to the key's own token_uri: a visitor could aim it anywhere.
    for uri in (recorder.url + "token", "http://169.254.169.254/token", "https://attacker.example/token"):
        with pytest.raises(serving.RefusedInput, match="token_uri must be Google's"):
            runner.run_storage(Credentials(gcp_service_account_json=visitor_service_account(uri)),
                               "ml-lab-demo", "a.txt", b"x", clouds=["Google Cloud"])
    assert recorder.seen == []


# --- Redirects out of a public host into the server's network ----------------------------------

def test_dns_rebinding_is_caught_on_the_connected_socket(hostile, passes_check, metadata):
    """The visitor's host passed the check, but the SDKs' own connections land on 127.0.0.1: each
    SDK's connection is dropped before a byte is sent (Azure, AWS, Cloud Storage's session)."""
    from google.auth.credentials import AnonymousCredentials

    creds = Credentials(aws_access_key_id=VISITOR_KEY_ID, aws_secret_access_key=VISITOR_SECRET,
                        aws_endpoint_url=passes_check.url, azure_connection_string=visitor_azure(passes_check.url))
    stored = runner.run_storage(creds, "ml-lab-demo", "a.txt", b"x", clouds=["Azure", "AWS"])
    queued = runner.run_queues(creds, "ml-lab-demo", ["hello"], clouds=["Azure", "AWS"])
    for result in (stored, queued):
        assert set(result.failures) == {"Azure", "AWS"}, result.failures
        no_secret_in(texts_of(result))
    session = credentials.guarded_google_session(AnonymousCredentials())
    with pytest.raises(Exception, match="loopback"):
        session.get(passes_check.url + "storage/v1/b")
    assert passes_check.seen == [] and metadata.seen == []


def test_azure_does_not_follow_a_redirect_into_the_network(hostile, public, metadata):
    public.status, public.headers = 307, {"Location": metadata.url + "latest/meta-data/iam/security-credentials/"}
    creds = Credentials(azure_connection_string=visitor_azure(public.url))
    result = runner.run_storage(creds, "ml-lab-demo", "a.txt", b"x", clouds=["Azure"])
    assert public.seen and metadata.seen == []
    assert "HTTP 307" in result.failures["Azure"]
    no_secret_in(texts_of(result))


def test_aws_does_not_follow_a_redirect_into_the_network(hostile, public, metadata):
    public.status, public.headers = 302, {"Location": metadata.url + "latest/meta-data/"}
    creds = Credentials(aws_access_key_id=VISITOR_KEY_ID, aws_secret_access_key=VISITOR_SECRET,
                        aws_endpoint_url=public.url)
    result = runner.run_storage(creds, "ml-lab-demo", "a.txt", b"x", clouds=["AWS"])
    assert public.seen and metadata.seen == [] and "AWS" in result.failures
    no_secret_in(texts_of(result) + [public.all_text()])


def test_google_session_checks_redirects_and_reply_sizes(hostile, public, metadata):
    from google.auth.credentials import AnonymousCredentials

    session = credentials.guarded_google_session(AnonymousCredentials())
    public.status, public.headers = 302, {"Location": metadata.url + "computeMetadata/v1/"}
    with pytest.raises(serving.RefusedInput, match=r"Cloud Storage endpoint \(redirect\)'s host .* loopback"):
        session.get(public.url + "storage/v1/b")
    assert metadata.seen == []
    public.status, public.headers = 200, {}
    small = credentials.guarded_google_session(AnonymousCredentials(), max_bytes=10)
    with pytest.raises(serving.RefusedInput, match="reads at most"):
        small.get(public.url)


def test_signed_url_fetch_is_guarded_for_real_targets(hostile, recorder, metadata):
    # The signed URL points at the visitor's endpoint: in shared mode it is fetched with checked host.
    with pytest.raises(serving.RefusedInput, match="loopback"):
        steps.http_get(recorder.url + "bucket/key?X-Amz-Signature=abc", remote=True)
    assert recorder.seen == []


# --- 3. Remote replies are not echoed --------------------------------------------------------

def test_sdk_errors_keep_status_and_code_not_the_reply(hostile, public):
    public.status, public.content_type = 403, "application/xml"
    public.reply = (b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>operator-internal-page: "
                    b"AKIAOPERATORFAKE0001</Message></Error>")
    creds = Credentials(aws_access_key_id=VISITOR_KEY_ID, aws_secret_access_key=VISITOR_SECRET,
                        aws_endpoint_url=public.url,
                        azure_connection_string=visitor_azure(public.url))
    result = runner.run_storage(creds, "ml-lab-demo", "a.txt", b"x", clouds=["Azure", "AWS"])
    assert "HTTP 403" in result.failures["AWS"] and "AccessDenied" in result.failures["AWS"]
    assert "HTTP 403" in result.failures["Azure"] and "error code AccessDenied" in result.failures["Azure"]
    everything = json.dumps(texts_of(result))
    assert INTERNAL not in everything
    no_secret_in([everything])


def test_remote_error_drops_bodies_of_every_kind():
    from botocore.parsers import ResponseParserError

    body = b"<html>operator-internal-page</html>"
    parser = ResponseParserError(f"Unable to parse response (syntax error), invalid XML received. Further "
                                 f"retries may succeed:\n{body!r}")
    message = steps.remote_error(parser)
    assert INTERNAL not in message and message.startswith("ResponseParserError")
    assert steps.remote_error(serving.RefusedInput("The endpoint was refused.")) == "The endpoint was refused."
    assert "HTTP 200" in steps.remote_error(steps.CheckFailed("the signed URL returned HTTP 200 and 3 bytes"))
    assert INTERNAL in steps.short_error(parser)  # locally the SDK's own message is kept, as before


# --- 4. What affects everyone -----------------------------------------------------------------

def test_stopping_the_emulators_is_operator_only(hostile, monkeypatch):
    stopped = []
    monkeypatch.setattr(emulators.POOL, "stop_all", lambda: stopped.append(1) or [])
    with pytest.raises(serving.RefusedInput, match="only its operator"):
        emulators.stop_on_request()
    assert stopped == []


def test_reading_the_credential_chains_shows_no_secret(hostile):
    from labs.cloud_sdks import clouds

    chains = clouds.credential_chains()  # builds DefaultAzureCredential and boto3's resolver; resolves nothing
    assert "EnvironmentCredential" in chains
    no_secret_in([chains])


def test_names_always_get_a_random_suffix(hostile):
    # The emulators are shared: a visitor must not be able to name (and empty) another's bucket.
    names = {runner.final_name("ml-lab-demo", unique=False) for _ in range(5)}
    assert len(names) == 5 and all(n.startswith("ml-lab-demo-") for n in names)


# --- 5. Sizes ---------------------------------------------------------------------------------

def test_oversized_inputs_are_refused_without_being_echoed(hostile, no_emulators, tmp_path):
    huge = "a" * 100_000
    with pytest.raises(runner.InputError, match="messages box holds"):
        runner.split_messages("m\n" * (runner.MAX_MESSAGES_CHARS // 2 + 1))
    with pytest.raises(runner.InputError, match="no cloud accepts more than 222") as info:
        runner.run_storage(Credentials(), huge, "a.txt", b"x")
    assert huge not in str(info.value)
    with pytest.raises(runner.InputError, match="object names stop at 1024 bytes"):
        runner.run_storage(Credentials(), "ml-lab-demo", huge, b"x")
    with pytest.raises(runner.InputError, match="no cloud accepts more than 222"):
        runner.run_queues(Credentials(), huge, ["a"])
    with pytest.raises(naming.NamingError, match="stops at 1024") as info:
        naming.check_all(huge)
    assert huge not in str(info.value)
    with pytest.raises(ValueError, match="type a few words"):
        catalogue.search(huge)
    with pytest.raises(ValueError, match="type a few words"):
        catalogue.aws_services(huge)
    with pytest.raises(ValueError, match="no service called"):
        catalogue.aws_service_detail("../../../../etc")
    outside = tmp_path / "server-file.txt"
    outside.write_text("server data")
    with pytest.raises(serving.RefusedInput, match="Server paths are not accepted"):
        runner.read_payload("", str(outside))


# --- Through the real gradio API ---------------------------------------------------------------

def test_attacks_through_the_gradio_api(hostile, client_for, recorder, metadata, no_emulators):
    from gradio_client.exceptions import AppError

    from labs.cloud_sdks.app import demo

    client = client_for(demo)
    base = [list(runner.CLOUDS), "ml-lab-demo", True, "a.txt", "hello", None]
    attacks = [
        (["", "", "", "", recorder.url, "", "", recorder.url, True], USE_ENV),  # use_env + visitor endpoints
        (["", "", "", "", recorder.url, "", "", "", False], "used only with an access key"),
        (["", VISITOR_KEY_ID, VISITOR_SECRET, "", "http://169.254.169.254/", "", "", "", False], "link-local"),
        ([azure_conn(BlobEndpoint=metadata.url), "", "", "", "", "", "", "", False], "loopback"),
    ]
    for creds, match in attacks:
        with pytest.raises(AppError, match=match) as info:
            client.predict(*base, *creds, api_name="/cloud_sdks_run_storage")
        no_secret_in([str(info.value)])
    with pytest.raises(AppError, match=USE_ENV):
        client.predict(list(runner.CLOUDS), "ml-lab-jobs", True, "job", "", "", "", "", recorder.url, "", "", "",
                       True, api_name="/cloud_sdks_run_queues")
    with pytest.raises(AppError, match="only its operator"):
        client.predict(api_name="/cloud_sdks_stop")
    assert recorder.seen == [] and metadata.seen == []


# --- Local mode keeps its conveniences ------------------------------------------------------------

def test_local_mode_is_unchanged(monkeypatch, operator_secrets, recorder):
    monkeypatch.setenv("ML_LABS_SHARED", "0")
    credentials.check_for_visitor(Credentials(use_environment=True, aws_endpoint_url=recorder.url))  # no refusal
    target = credentials.aws_target(Credentials(use_environment=True, aws_endpoint_url=recorder.url))
    assert target.kind == "cloud" and "default credential chain" in target.description
    assert "aws_access_key_id" not in target.client_kwargs() and "config" not in target.client_kwargs()
    assert runner.final_name("ml-lab-demo", unique=False) == "ml-lab-demo"
    assert credentials.AzureTarget("cloud", "x", connection_string="c").client_kwargs() == {}
    pool = emulators.EmulatorPool()
    monkeypatch.setattr(emulators, "POOL", pool)
    assert emulators.stop_on_request() == []
    assert recorder.seen == []


needs_emulators = pytest.mark.skipif(
    any(not emulators.available(k)[0] for k in emulators.SPECS) or bool(runner.missing_distributions()),
    reason="emulators or SDKs missing (bash .ci/lab-cloud_sdks.sh and requirements/cloud_sdks.txt install them)")


@needs_emulators
def test_shared_mode_still_runs_on_the_emulators(hostile, recorder):
    """With no keys, a visitor's run goes to the local emulators and works, with a suffixed name."""
    try:
        result = runner.run_storage(Credentials(), "ml-lab-shared", "a.txt", b"hello", unique=False)
        queues = runner.run_queues(Credentials(), "ml-lab-shared-q", ["a", "b"], unique=False, clouds=["Azure", "AWS"])
    finally:
        emulators.POOL.stop_all()
    assert not result.failures and result.summary().count("all OK") == 3, result.failures
    assert not queues.failures and queues.summary().count("all OK") == 2, queues.failures
    assert result.names["AWS"].startswith("ml-lab-shared-") and result.names["AWS"] != "ml-lab-shared"
    assert all("(local emulator)" in t for t in result.targets.values())
    assert recorder.seen == []
    no_secret_in(texts_of(result) + texts_of(queues))
