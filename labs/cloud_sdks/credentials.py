"""Which target each SDK call hits (a local emulator or a real cloud), and keeping secrets secret.

With no credentials, every call goes to a local emulator that the lab starts. Credentials typed
into the lab's password fields select the real cloud for that provider only; the server's own
environment (the SDKs' default credential chains) is used only when the user ticks the box, so a
teacher's laptop never creates buckets in a real account by surprise.

Secrets are never printed, logged or written: the `Credentials` object hides them from `repr`,
and every message that leaves the lab goes through `scrub()` first.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import urllib.parse
from dataclasses import dataclass, field

from labs.cloud_sdks import emulators

DEFAULT_AWS_REGION = "us-east-1"  # moto's default and the region S3 treats specially (no LocationConstraint)
EMULATOR_GCP_PROJECT = "ml-labs-emulator"  # the GCS emulator accepts any project id


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


@dataclass(frozen=True)
class AwsTarget:
    """Where the boto3 calls go. No key means boto3's default credential chain."""

    kind: str
    description: str
    region: str = DEFAULT_AWS_REGION
    endpoint_url: str | None = None
    access_key_id: str = field(default="", repr=False)
    secret_access_key: str = field(default="", repr=False)

    def client_kwargs(self) -> dict:
        """Keyword arguments for `boto3.client(...)`: region, endpoint, and keys only if given."""
        kwargs: dict = {"region_name": self.region}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.access_key_id:
            kwargs["aws_access_key_id"] = self.access_key_id
            kwargs["aws_secret_access_key"] = self.secret_access_key
        return kwargs


@dataclass(frozen=True)
class GcpTarget:
    """Where the google-cloud calls go. No key info means `google.auth.default()`."""

    kind: str
    description: str
    project: str = ""
    endpoint_url: str | None = None
    service_account_info: dict | None = field(default=None, repr=False)


def _check_account_key(key: str) -> None:
    try:
        base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("The AccountKey in your Azure connection string is not valid base64. Copy the whole "
                         "connection string again (portal: Storage account → Security + networking → Access keys)."
                         ) from None


def azure_target(creds: Credentials) -> AzureTarget:
    """The Azure target: your connection string, your environment (opt-in), or Azurite."""
    conn = creds.azure_connection_string.strip()
    source = "the connection string you typed"
    if not conn and creds.use_environment:
        conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING", "").strip()
        source = "AZURE_STORAGE_CONNECTION_STRING from the server environment"
        url = os.environ.get("AZURE_STORAGE_ACCOUNT_URL", "").strip()
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
    """The AWS target: your keys, boto3's default chain (opt-in), or moto's server."""
    key_id, secret = creds.aws_access_key_id.strip(), creds.aws_secret_access_key.strip()
    region = (creds.aws_region or "").strip() or os.environ.get("AWS_DEFAULT_REGION", "") or DEFAULT_AWS_REGION
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


def gcp_target(creds: Credentials) -> GcpTarget:
    """The Google Cloud target: your service-account key, google.auth.default() (opt-in), or the emulator."""
    endpoint = (creds.gcp_endpoint_url or "").strip() or None
    if endpoint and not re.match(r"https?://", endpoint):
        raise ValueError("The Cloud Storage endpoint override must start with http:// or https://.")
    raw = creds.gcp_service_account_json.strip()
    if raw:
        try:
            info = json.loads(raw)
        except ValueError:
            raise ValueError("The Google Cloud key is not valid JSON. Paste the whole service-account key file "
                             "(IAM → Service accounts → Keys → Add key → JSON).") from None
        if not isinstance(info, dict) or info.get("type") != "service_account" or not info.get("private_key") \
                or not info.get("client_email"):
            raise ValueError("The Google Cloud key must be a service-account key file with type 'service_account', "
                             "client_email and private_key.")
        project = (creds.gcp_project or "").strip() or str(info.get("project_id", ""))
        return GcpTarget("cloud", f"Google Cloud project '{project}' as {info['client_email']} (key you typed)"
                         + (f" at {endpoint}" if endpoint else ""), project, endpoint, info)
    if creds.use_environment:
        project = (creds.gcp_project or "").strip() or os.environ.get("GOOGLE_CLOUD_PROJECT", "")
        return GcpTarget("cloud", f"Google Cloud project '{project or '(from credentials)'}' with google.auth.default() "
                         "(server environment)", project, endpoint)
    emu = emulators.POOL.get("gcs")
    return GcpTarget("emulator", emu.describe(), EMULATOR_GCP_PROJECT, emu.endpoint)
