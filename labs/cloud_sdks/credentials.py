"""Which target each SDK call hits (a local emulator or a real cloud), and keeping secrets secret.

With no credentials, every call goes to a local emulator that the lab starts. Credentials typed
into the lab's password fields select the real cloud for that provider only; the server's own
environment (the SDKs' default credential chains) is used only when the user ticks the box, so a
teacher's laptop never creates buckets in a real account by surprise.

On a shared server (`shared.serving.is_shared()`) the visitor is not the operator: the server's
environment is never used (the box is refused), an endpoint must be a public host
(`serving.check_endpoint`) and comes only with keys typed beside it, so no SDK ever falls back to
its default credential chain (env vars, instance metadata, `google.auth.default()`,
`DefaultAzureCredential`) for a visitor. `check_for_visitor` applies these rules before a run.

Secrets are never printed, logged or written: the `Credentials` object hides them from `repr`,
and every message that leaves the lab goes through `scrub()` first.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from dataclasses import dataclass, field

from labs.cloud_sdks import emulators
from shared import egress, serving

DEFAULT_AWS_REGION = "us-east-1"  # moto's default and the region S3 treats specially (no LocationConstraint)
EMULATOR_GCP_PROJECT = "ml-labs-emulator"  # the GCS emulator accepts any project id
# Shared mode: the token endpoints a real service-account key names (a key is JSON the visitor
# pastes, and google-auth POSTs to its token_uri), and timeouts so a slow endpoint frees the worker.
GOOGLE_TOKEN_URIS = ("https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token")
SHARED_CONNECT_TIMEOUT_S = 5
SHARED_READ_TIMEOUT_S = 20
USE_ENV_REFUSED = ("'Use this server's environment' is not available on a shared server: its own cloud credentials "
                   "are never used for a visitor's request. Type your own keys, or leave the fields empty to use "
                   "the local emulators.")


@dataclass(frozen=True)
class Credentials:
    """What the user typed. Secret fields are excluded from repr, so logging this object is safe."""

    azure_connection_string: str = field(default="", repr=False)
    aws_access_key_id: str = field(default="", repr=False)
    aws_secret_access_key: str = field(default="", repr=False)
    aws_region: str = ""
    aws_endpoint_url: str = ""  # an S3-compatible endpoint instead of AWS (MinIO, another emulator)
    gcp_service_account_json: str = field(default="", repr=False)
    gcp_project: str = ""
    gcp_endpoint_url: str = ""
    use_environment: bool = False  # let the SDKs' default credential chains read this server's env

    def secrets(self) -> list[str]:
        """Every secret value typed (and the parts of them a message could quote), longest first."""
        values = [self.azure_connection_string, self.aws_access_key_id, self.aws_secret_access_key,
                  self.gcp_service_account_json]
        values += [v for k, v in parse_connection_string(self.azure_connection_string).items()
                   if k.lower() in {"accountkey", "sharedaccesssignature"}]
        if self.gcp_service_account_json:
            try:
                info = json.loads(self.gcp_service_account_json)
                values += [str(info.get("private_key", "")), str(info.get("private_key_id", ""))]
            except (ValueError, AttributeError):
                pass
        return sorted({v.strip() for v in values if v and len(v.strip()) >= 4}, key=len, reverse=True)


_SIGNATURE_PATTERNS = [
    (re.compile(r"(AccountKey=)[^;\s\"']+", re.I), r"\1***"),
    (re.compile(r"(SharedAccessSignature=)[^;\s\"']+", re.I), r"\1***"),
    (re.compile(r"((?:^|[?&\s;,])(?:sig|signature|x-amz-signature|x-amz-security-token|x-amz-credential|"
                r"awsaccesskeyid|x-goog-signature|x-goog-credential)=)[^&\s\"'<>]+", re.I), r"\1***"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S), "***private key***"),
    (re.compile(r"(\"private_key(?:_id)?\"\s*:\s*\")[^\"]*"), r"\1***"),
]


def scrub(text: str, secrets: list[str] | tuple[str, ...] = (), *, signatures: bool = True) -> str:
    """Remove secrets from a message before it is shown or logged.

    Args:
        text: Any message (an SDK error, a URL, a table cell).
        secrets: Exact values to remove (also their URL-encoded and JSON-escaped forms).
        signatures: Also mask URL signatures, account keys and private keys by pattern. The lab
            turns this off only for local-emulator URLs, whose keys are public.
    """
    text = str(text)
    for secret in secrets:
        for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
                     json.dumps(secret)[1:-1]}:
            if len(form) >= 4:
                text = text.replace(form, "***")
    if signatures:
        for pattern, repl in _SIGNATURE_PATTERNS:
            text = pattern.sub(repl, text)
    return text


def parse_connection_string(value: str) -> dict[str, str]:
    """Split an Azure Storage connection string (`Key=Value;...`) into a dict (empty if blank)."""
    parts = {}
    for piece in (value or "").strip().split(";"):
        if "=" in piece:
            key, _, val = piece.partition("=")
            parts[key.strip()] = val.strip()
    return parts


# --- Targets ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AzureTarget:
    """Where the Azure SDK calls go. `connection_string` or `account_url` (+ DefaultAzureCredential)."""

    kind: str  # "emulator" or "cloud"
    description: str
    connection_string: str = field(default="", repr=False)
    account_url: str = ""
    account_name: str = ""
    account_key: str = field(default="", repr=False)  # for signing SAS URLs; empty with Entra ID
    queue_connection_string: str = field(default="", repr=False)

    def client_kwargs(self) -> dict:
        """Extra keyword arguments for the Azure clients: none locally. On a shared server, a real
        (visitor-named) account gets no redirects, one retry, and a transport with short timeouts
        that connects to public addresses only (`shared.egress`, against DNS rebinding)."""
        if self.kind == "emulator" or not serving.is_shared():
            return {}
        if not self.connection_string:  # DefaultAzureCredential would sign in as this server
            raise serving.RefusedInput(USE_ENV_REFUSED)
        transport = egress.azure_transport(connection_timeout=SHARED_CONNECT_TIMEOUT_S,
                                           read_timeout=SHARED_READ_TIMEOUT_S)
        return {"permit_redirects": False, "retry_total": 1, "transport": transport}

    def check_client_url(self, url: str) -> None:
        """Shared mode: check the URL the SDK itself built from the connection string, before any call."""
        if self.kind != "emulator" and serving.is_shared():
            serving.check_endpoint(url, what="Azure Storage endpoint")


@dataclass(frozen=True)
class AwsTarget:
    """Where the boto3 calls go. No key means boto3's default credential chain."""

    kind: str
    description: str
    region: str = DEFAULT_AWS_REGION
    endpoint_url: str | None = None
    access_key_id: str = field(default="", repr=False)
    secret_access_key: str = field(default="", repr=False)

    def client_kwargs(self, config=None) -> dict:
        """Keyword arguments for `boto3.client(...)`: region, endpoint, keys only if given, `config`.

        On a shared server a real target must carry typed keys (else boto3 would read this server's
        env vars or instance role) and its config ignores endpoints configured in the server's
        environment, with short timeouts.
        """
        kwargs: dict = {"region_name": self.region}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.access_key_id:
            kwargs["aws_access_key_id"] = self.access_key_id
            kwargs["aws_secret_access_key"] = self.secret_access_key
        if self.kind != "emulator" and serving.is_shared():
            if not self.access_key_id:
                raise serving.RefusedInput(USE_ENV_REFUSED)
            from botocore.config import Config

            guard = Config(connect_timeout=SHARED_CONNECT_TIMEOUT_S, read_timeout=SHARED_READ_TIMEOUT_S,
                           retries={"max_attempts": 1}, ignore_configured_endpoint_urls=True)
            config = config.merge(guard) if config is not None else guard
        if config is not None:
            kwargs["config"] = config
        return kwargs

    def guard(self, client):
        """Return a boto3 client for this target; on a shared server a real target's client is made
        to connect to public addresses only (`shared.egress`, against DNS rebinding)."""
        if self.kind != "emulator" and serving.is_shared():
            egress.guard_botocore(client)
        return client


@dataclass(frozen=True)
class GcpTarget:
    """Where the google-cloud calls go. No key info means `google.auth.default()`."""

    kind: str
    description: str
    project: str = ""
    endpoint_url: str | None = None
    service_account_info: dict | None = field(default=None, repr=False)
    pubsub_host: str = ""  # an emulator's host:port for Pub/Sub (plain gRPC, no credentials)

    def client_kwargs(self, credentials) -> dict:
        """Extra keyword arguments for `storage.Client`: none locally. On a shared server, a real
        target gets an HTTP session that refuses redirects to non-public addresses and replies
        announcing more than `max_bytes`."""
        if self.kind == "emulator" or not serving.is_shared():
            return {}
        if credentials is None:
            raise serving.RefusedInput(USE_ENV_REFUSED)
        return {"_http": guarded_google_session(credentials)}


def guarded_google_session(credentials, *, max_bytes: int = 16 * 1024 * 1024):
    """An authorized requests session for a shared server: redirects are checked like a typed
    endpoint, and every connection's peer must be a public address."""
    import requests
    from google.auth.transport.requests import AuthorizedSession, Request

    def check(response, *_args, **_kwargs):
        if response.is_redirect:
            target = urllib.parse.urljoin(response.url, response.headers.get("location", ""))
            serving.check_endpoint(target, what="Cloud Storage endpoint (redirect)")
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise serving.RefusedInput(f"The Cloud Storage endpoint answered with {int(length) / 1e6:.0f} MB; this "
                                       f"shared server reads at most {max_bytes / 1e6:.0f} MB per reply.")
        return response

    plain = egress.mount_public_only(requests.Session())  # the peer is checked too (DNS rebinding)
    plain.hooks["response"].append(check)
    session = egress.mount_public_only(AuthorizedSession(credentials, auth_request=Request(plain)))
    session.hooks["response"].append(check)
    return session


def _check_account_key(key: str) -> None:
    try:
        base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("The AccountKey in your Azure connection string is not valid base64. Copy the whole "
                         "connection string again (portal: Storage account → Security + networking → Access keys)."
                         ) from None


# --- Shared mode: what a visitor may type --------------------------------------------------------

_AZURE_ENDPOINT_KEYS = ("BLOBENDPOINT", "BLOBSECONDARYENDPOINT", "QUEUEENDPOINT", "QUEUESECONDARYENDPOINT",
                        "FILEENDPOINT", "FILESECONDARYENDPOINT", "TABLEENDPOINT", "TABLESECONDARYENDPOINT")


def azure_endpoints(conn: str) -> list[str]:
    """Every URL the Azure SDK could build from connection string `conn`: the blob and queue
    endpoints it names or derives (`{protocol}://{account}.{service}.{EndpointSuffix}`), and any
    other endpoint it names. Shared mode only: also refuses what the SDK would read differently.

    Raises:
        RefusedInput: Non-ASCII text, spaces, repeated keys, a bad account name or suffix.
    """
    what = "Azure connection string"
    if not conn.isascii() or any(c.isspace() for c in conn):
        raise serving.RefusedInput(f"The {what} must be one line of Key=Value pairs in plain ASCII, without spaces: "
                                   "copy it again from the portal (Storage account → Access keys).")
    parts: dict[str, str] = {}
    for piece in conn.rstrip(";").split(";"):
        key, sep, value = piece.partition("=")
        if not sep:
            raise serving.RefusedInput(f"The {what} has a part without '=': every part is Key=Value.")
        if key.upper() in parts:
            raise serving.RefusedInput(f"The {what} names {key} twice; give each key once.")
        parts[key.upper()] = value
    account = parts.get("ACCOUNTNAME", "")
    if not re.fullmatch(r"[a-z0-9]{3,24}", account):
        raise serving.RefusedInput(f"The {what}'s AccountName must be 3-24 lowercase letters and digits, as Azure "
                                   "storage account names are.")
    suffix = parts.get("ENDPOINTSUFFIX", "core.windows.net")
    if not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", suffix):
        raise serving.RefusedInput(f"The {what}'s EndpointSuffix must be a DNS name such as core.windows.net.")
    protocol = parts.get("DEFAULTENDPOINTSPROTOCOL", "https")
    if protocol not in ("https", "http"):
        raise serving.RefusedInput(f"The {what}'s DefaultEndpointsProtocol must be https or http.")
    urls = [parts.get(f"{service.upper()}ENDPOINT") or f"{protocol}://{account}.{service}.{suffix}"
            for service in ("blob", "queue")]
    return urls + [parts[k] for k in _AZURE_ENDPOINT_KEYS if k in parts and parts[k] not in urls]


def check_for_visitor(creds: Credentials, clouds=("Azure", "AWS", "Google Cloud")) -> None:
    """Shared mode: refuse, before anything runs, what would lend this server's credentials or
    reach its network (no-op locally). Each refusal is one line saying what and why.

    - the server's environment ("use the server environment" box) is never used;
    - endpoints (typed, or named in an Azure connection string) must resolve to public addresses;
    - an endpoint override comes with keys typed beside it, else the SDK would sign with the
      server's own default credentials;
    - a Google service-account key must use Google's token endpoint.

    Raises:
        RefusedInput: Saying which field was refused and what to do.
    """
    if not serving.is_shared():
        return
    if creds.use_environment:
        raise serving.RefusedInput(USE_ENV_REFUSED)
    if "Azure" in clouds:
        conn = creds.azure_connection_string.strip()
        for url in azure_endpoints(conn) if conn else []:
            serving.check_endpoint(url, what="Azure connection string's endpoint")
    if "AWS" in clouds and creds.aws_endpoint_url.strip():
        if not creds.aws_access_key_id.strip():
            raise serving.RefusedInput("The S3/SQS endpoint override is used only with an access key id and secret "
                                       "typed beside it (this shared server never lends its own). Type your keys, or "
                                       "clear the endpoint to use the local moto emulator.")
        serving.check_endpoint(creds.aws_endpoint_url, what="S3/SQS endpoint override")
    if "Google Cloud" in clouds:
        if creds.gcp_endpoint_url.strip():
            if not creds.gcp_service_account_json.strip():
                raise serving.RefusedInput("The Cloud Storage endpoint override is used only with a service-account "
                                           "key typed beside it (this shared server never lends its own). Paste your "
                                           "key, or clear the endpoint to use the local emulator.")
            serving.check_endpoint(creds.gcp_endpoint_url, what="Cloud Storage endpoint override")
        if creds.gcp_service_account_json.strip():
            check_service_account_for_visitor(_service_account_info(creds.gcp_service_account_json))


def check_service_account_for_visitor(info: dict) -> None:
    """Shared mode: google-auth POSTs to the key's own `token_uri`, so it must be Google's."""
    if not serving.is_shared():
        return
    if str(info.get("token_uri", "")) not in GOOGLE_TOKEN_URIS:
        raise serving.RefusedInput(f"The service-account key's token_uri must be Google's ({GOOGLE_TOKEN_URIS[0]}) "
                                   "on this shared server; paste the key file exactly as Google issued it.")
    if str(info.get("universe_domain", "googleapis.com")) != "googleapis.com":
        raise serving.RefusedInput("The service-account key's universe_domain must be googleapis.com on this "
                                   "shared server.")


def azure_target(creds: Credentials) -> AzureTarget:
    """The Azure target: your connection string, your environment (opt-in, local only), or Azurite."""
    check_for_visitor(creds, clouds=("Azure",))
    conn = creds.azure_connection_string.strip()
    source = "the connection string you typed"
    if not conn and creds.use_environment:
        conn = serving.operator_env("AZURE_STORAGE_CONNECTION_STRING", "").strip()
        source = "AZURE_STORAGE_CONNECTION_STRING from the server environment"
        url = serving.operator_env("AZURE_STORAGE_ACCOUNT_URL", "").strip()
        if not conn and url:
            name = urllib.parse.urlparse(url).hostname or url
            return AzureTarget("cloud", f"Azure Storage at {name} with DefaultAzureCredential (server environment)",
                               account_url=url, account_name=name.split(".")[0])
        if not conn:
            raise ValueError("'Use the server environment' is ticked but neither AZURE_STORAGE_CONNECTION_STRING nor "
                             "AZURE_STORAGE_ACCOUNT_URL is set. Set one, type a connection string, or untick the box "
                             "to use the Azurite emulator.")
    if conn:
        parts = {k.lower(): v for k, v in parse_connection_string(conn).items()}
        if parts.get("usedevelopmentstorage", "").lower() == "true":
            raise ValueError("UseDevelopmentStorage=true means Azurite on fixed ports; leave the field empty and the "
                             "lab starts Azurite itself.")
        name = parts.get("accountname", "")
        if not name or not (parts.get("accountkey") or parts.get("sharedaccesssignature")):
            raise ValueError("That does not look like an Azure Storage connection string: it needs AccountName and "
                             "AccountKey (or SharedAccessSignature). Copy it from the portal: Storage account → "
                             "Access keys → Connection string.")
        if parts.get("accountkey"):
            _check_account_key(parts["accountkey"])
        endpoint = parts.get("blobendpoint") or f"https://{name}.blob.{parts.get('endpointsuffix', 'core.windows.net')}"
        host = urllib.parse.urlparse(endpoint).netloc or endpoint
        return AzureTarget("cloud", f"Azure Storage account '{name}' at {host} ({source})",
                           connection_string=conn, account_name=name, account_key=parts.get("accountkey", ""),
                           queue_connection_string=conn)
    emu = emulators.POOL.get("azurite")
    blob, queue = emu.ports[0], emu.ports[1]
    base = (f"DefaultEndpointsProtocol=http;AccountName={emulators.AZURITE_ACCOUNT};"
            f"AccountKey={emulators.AZURITE_KEY};")
    return AzureTarget("emulator", emu.describe(),
                       connection_string=base + f"BlobEndpoint=http://{emulators.HOST}:{blob}/{emulators.AZURITE_ACCOUNT};",
                       queue_connection_string=base + f"QueueEndpoint=http://{emulators.HOST}:{queue}/{emulators.AZURITE_ACCOUNT};",
                       account_name=emulators.AZURITE_ACCOUNT, account_key=emulators.AZURITE_KEY)


def aws_target(creds: Credentials) -> AwsTarget:
    """The AWS target: your keys, boto3's default chain (opt-in, local only), or moto's server."""
    check_for_visitor(creds, clouds=("AWS",))
    key_id, secret = creds.aws_access_key_id.strip(), creds.aws_secret_access_key.strip()
    region = (creds.aws_region or "").strip() or serving.operator_env("AWS_DEFAULT_REGION", "") or DEFAULT_AWS_REGION
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise ValueError(f"'{region}' is not an AWS region name; use one like us-east-1 or eu-west-1.")
    endpoint = (creds.aws_endpoint_url or "").strip() or None
    if endpoint and not re.match(r"https?://", endpoint):
        raise ValueError("The S3 endpoint override must start with http:// or https:// (or leave it empty for AWS).")
    where = f"endpoint {endpoint}" if endpoint else f"AWS {region}"
    if bool(key_id) != bool(secret):
        raise ValueError("Give both the AWS access key id and the secret access key (or neither, to use moto).")
    if key_id:
        return AwsTarget("cloud", f"{where} with the access key you typed", region, endpoint, key_id, secret)
    if creds.use_environment:
        return AwsTarget("cloud", f"{where} with boto3's default credential chain (server environment)", region, endpoint)
    emu = emulators.POOL.get("moto")
    return AwsTarget("emulator", emu.describe(), DEFAULT_AWS_REGION, emu.endpoint,
                     emulators.MOTO_KEY_ID, emulators.MOTO_SECRET)


def _service_account_info(raw: str) -> dict:
    """The parsed service-account key file; a clear error (that never quotes it) if it is not one."""
    try:
        info = json.loads(raw)
    except ValueError:
        raise ValueError("The Google Cloud key is not valid JSON. Paste the whole service-account key file "
                         "(IAM → Service accounts → Keys → Add key → JSON).") from None
    if not isinstance(info, dict) or info.get("type") != "service_account" or not info.get("private_key") \
            or not info.get("client_email"):
        raise ValueError("The Google Cloud key must be a service-account key file with type 'service_account', "
                         "client_email and private_key.")
    return info


def pubsub_emulator_host() -> str:
    """Google's Pub/Sub emulator named by PUBSUB_EMULATOR_HOST: an operator setting, never read in shared mode."""
    return serving.operator_env("PUBSUB_EMULATOR_HOST", "").strip()


def gcp_target(creds: Credentials, service: str = "storage") -> GcpTarget:
    """The Google Cloud target: your service-account key, google.auth.default() (opt-in, local only), or the emulator.

    `service` picks the emulator: "storage" (gcp-storage-emulator) or "pubsub" (Google's emulator
    at PUBSUB_EMULATOR_HOST, an operator setting, else the lab's Pub/Sub stand-in).
    """
    check_for_visitor(creds, clouds=("Google Cloud",))
    endpoint = (creds.gcp_endpoint_url or "").strip() or None
    if endpoint and not re.match(r"https?://", endpoint):
        raise ValueError("The Cloud Storage endpoint override must start with http:// or https://.")
    raw = creds.gcp_service_account_json.strip()
    if raw:
        info = _service_account_info(raw)
        project = (creds.gcp_project or "").strip() or str(info.get("project_id", ""))
        return GcpTarget("cloud", f"Google Cloud project '{project}' as {info['client_email']} (key you typed)"
                         + (f" at {endpoint}" if endpoint else ""), project, endpoint, info)
    if creds.use_environment:
        project = (creds.gcp_project or "").strip() or serving.operator_env("GOOGLE_CLOUD_PROJECT", "")
        return GcpTarget("cloud", f"Google Cloud project '{project or '(from credentials)'}' with google.auth.default() "
                         "(server environment)", project, endpoint)
    if service == "pubsub":
        official = pubsub_emulator_host()
        if official:
            return GcpTarget("emulator", f"Google's Pub/Sub emulator at {official} (PUBSUB_EMULATOR_HOST)",
                             EMULATOR_GCP_PROJECT, pubsub_host=official)
        emu = emulators.POOL.get("pubsub")
        return GcpTarget("emulator", emu.describe(), EMULATOR_GCP_PROJECT, pubsub_host=emu.endpoint)
    emu = emulators.POOL.get("gcs")
    return GcpTarget("emulator", emu.describe(), EMULATOR_GCP_PROJECT, emu.endpoint)
