"""Object storage, the same task in three SDKs: Azure Blob, Amazon S3, Google Cloud Storage.

Each function does the same six things, in the same order, with its cloud's own SDK:
create a bucket/container, upload an object, list, download (and compare bytes), make a
time-limited signed URL and fetch it with plain HTTP (no SDK, no credentials), then delete
everything. The target is a local emulator or a real cloud; the code is the same, only the
client construction (the first lines) differs, which is the point.

The imports sit inside the functions: the launcher never loads a cloud SDK.

On a shared server the targets add their guards through `target.client_kwargs(...)` (no
unchecked redirects, short timeouts, never a default credential chain) and every loop or read
over what a remote target returns is bounded (`MAX_LISTED`, reads no longer than the upload).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools

from labs.cloud_sdks.credentials import AwsTarget, AzureTarget, GcpTarget
from labs.cloud_sdks.steps import CheckFailed, StepLog, http_get, tamper

SIGNED_URL_MINUTES = 15  # long enough to paste the link into a browser, short enough to be harmless
MAX_LISTED = 100  # the demo puts one object in a fresh bucket: never page through more than this


def _check_signed_fetch(log: StepLog, url: str, data: bytes, sig_param: str, *, remote: bool = False) -> None:
    """Fetch a signed URL with plain HTTP, then a forged copy, and record what the target did."""
    with log.step("fetch signed URL (plain HTTP)") as d:
        status, body = http_get(url, remote=remote)
        if status != 200 or body != data:
            raise CheckFailed(f"the signed URL returned HTTP {status} and {len(body)} bytes")
        d.text = f"HTTP {status}, {len(body)} bytes, identical to the upload"
    with log.step("fetch forged URL (signature changed)") as d:
        status, _ = http_get(tamper(url, sig_param), remote=remote)
        if status in (401, 403):
            d.text = f"HTTP {status}: refused, the target checks signatures"
        elif status == 200:
            d.text = f"HTTP {status}: accepted! This emulator does not check signatures; the real service answers 403"
        else:
            d.text = f"HTTP {status}: refused, though not with the 403 a signature check gives"


def azure_blob_demo(target: AzureTarget, container_name: str, blob_name: str, data: bytes, log: StepLog) -> None:
    """Azure Blob Storage with azure-storage-blob: container → upload → list → download → SAS URL → delete."""
    from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

    # 1. A client for the account. A connection string carries the account key (Azurite's is public);
    #    without one, DefaultAzureCredential signs in with Entra ID (env vars, managed identity, az login).
    if target.connection_string:
        service = BlobServiceClient.from_connection_string(target.connection_string, **target.client_kwargs())
    else:
        from azure.identity import DefaultAzureCredential
        service = BlobServiceClient(target.account_url, **target.client_kwargs(), credential=DefaultAzureCredential())
    target.check_client_url(service.url)  # a shared server checks the host the SDK will call

    with log.step("create container") as d:
        container = service.create_container(container_name)
        d.text = f"container '{container_name}'"
    try:
        with log.step("upload blob") as d:
            container.upload_blob(blob_name, data, overwrite=True)
            d.text = f"{len(data)} bytes to '{blob_name}'"
        with log.step("list blobs") as d:
            names = [b.name for b in itertools.islice(container.list_blobs(), MAX_LISTED)]
            d.text = f"{len(names)} blob(s): {', '.join(names)}"
        with log.step("download blob") as d:
            # Never read more than we sent (one byte more shows a longer object): the endpoint could lie.
            got = container.download_blob(blob_name, offset=0, length=len(data) + 1).readall()
            d.text = f"{len(got)} bytes, {'identical' if got == data else 'DIFFERENT'}"
        # 2. A SAS (shared access signature) URL: read-only, expires. Signed with the account key,
        #    or with a user delegation key fetched through Entra ID when there is no account key.
        with log.step("make SAS URL (read, expires)") as d:
            expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=SIGNED_URL_MINUTES)
            if target.account_key:
                sas = generate_blob_sas(target.account_name, container_name, blob_name, account_key=target.account_key,
                                        permission=BlobSasPermissions(read=True), expiry=expiry)
            else:
                key = service.get_user_delegation_key(dt.datetime.now(dt.timezone.utc), expiry)
                sas = generate_blob_sas(target.account_name, container_name, blob_name, user_delegation_key=key,
                                        permission=BlobSasPermissions(read=True), expiry=expiry)
            url = f"{container.get_blob_client(blob_name).url}?{sas}"
            d.text = url
        _check_signed_fetch(log, url, data, "sig", remote=target.kind != "emulator")
    finally:
        # 3. Clean up even after a failure: deleting the container deletes its blobs.
        with log.step("delete container") as d:
            container.delete_container()
            d.text = "container and its blobs deleted"


def s3_demo(target: AwsTarget, bucket: str, key: str, data: bytes, log: StepLog) -> None:
    """Amazon S3 with boto3: bucket → put → list → get → presigned URL → delete."""
    import boto3
    from botocore.config import Config

    # 1. A client. With explicit keys they are used; without, boto3's default chain looks in env
    #    vars, ~/.aws, SSO, then the instance/container role. Signature V4 is what every region accepts.
    s3 = target.guard(boto3.client("s3", **target.client_kwargs(Config(signature_version="s3v4",
                                                                       retries={"max_attempts": 2}))))

    with log.step("create bucket") as d:
        if target.region == "us-east-1":  # the one region that refuses an explicit LocationConstraint
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": target.region})
        d.text = f"bucket '{bucket}' in {target.region}"
    try:
        with log.step("put object") as d:
            s3.put_object(Bucket=bucket, Key=key, Body=data)
            d.text = f"{len(data)} bytes to '{key}'"
        with log.step("list objects") as d:
            listed = s3.list_objects_v2(Bucket=bucket, MaxKeys=MAX_LISTED).get("Contents", [])[:MAX_LISTED]
            d.text = f"{len(listed)} object(s): {', '.join(o['Key'] for o in listed)}"
        with log.step("get object") as d:
            got = s3.get_object(Bucket=bucket, Key=key)["Body"].read(len(data) + 1)  # at most one byte more than sent
            d.text = f"{len(got)} bytes, {'identical' if got == data else 'DIFFERENT'}"
        # 2. A presigned URL is computed locally from the keys: no call to S3 happens here.
        with log.step("make presigned URL (GET, expires)") as d:
            url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                            ExpiresIn=SIGNED_URL_MINUTES * 60)
            d.text = url
        _check_signed_fetch(log, url, data, "X-Amz-Signature", remote=target.kind != "emulator")
    finally:
        # 3. A bucket must be empty before it can be deleted.
        with log.step("delete object and bucket") as d:
            for obj in s3.list_objects_v2(Bucket=bucket, MaxKeys=MAX_LISTED).get("Contents", [])[:MAX_LISTED]:
                s3.delete_object(Bucket=bucket, Key=obj["Key"])
            s3.delete_bucket(Bucket=bucket)
            d.text = "bucket emptied and deleted"


def gcs_demo(target: GcpTarget, bucket_name: str, blob_name: str, data: bytes, log: StepLog) -> None:
    """Google Cloud Storage with google-cloud-storage: bucket → upload → list → download → signed URL → delete."""
    from google.cloud import storage

    # 1. A client. A service-account key is used as given; with none, google.auth.default() reads
    #    GOOGLE_APPLICATION_CREDENTIALS, gcloud's login, or the metadata server. The emulator takes
    #    anonymous credentials and its own endpoint.
    options = {"api_endpoint": target.endpoint_url} if target.endpoint_url else None
    if target.kind == "emulator":
        from google.auth.credentials import AnonymousCredentials
        signer = _throwaway_service_account(target.project)  # signing is local math; the emulator has no keys
        client = storage.Client(project=target.project, credentials=AnonymousCredentials(), client_options=options)
    elif target.service_account_info:
        from google.oauth2 import service_account
        signer = service_account.Credentials.from_service_account_info(target.service_account_info)
        client = storage.Client(project=target.project, credentials=signer, client_options=options,
                                **target.client_kwargs(signer))
    else:
        client = storage.Client(project=target.project or None, client_options=options,
                                **target.client_kwargs(None))  # refused on a shared server
        signer = None  # default credentials sign only if they are a service account with a key

    with log.step("create bucket") as d:
        bucket = client.create_bucket(bucket_name)
        d.text = f"bucket '{bucket_name}' in project '{client.project}'"
    try:
        blob = bucket.blob(blob_name)
        with log.step("upload blob") as d:
            blob.upload_from_string(data)
            d.text = f"{len(data)} bytes to '{blob_name}'"
        with log.step("list blobs") as d:
            names = [b.name for b in client.list_blobs(bucket_name, max_results=MAX_LISTED)]
            d.text = f"{len(names)} blob(s): {', '.join(names)}"
        with log.step("download blob") as d:
            got = bucket.blob(blob_name).download_as_bytes(start=0, end=len(data))  # at most one byte more than sent
            d.text = f"{len(got)} bytes, {'identical' if got == data else 'DIFFERENT'}"
        # 2. A V4 signed URL, computed locally with the service account's private key.
        with log.step("make signed URL (V4, GET, expires)") as d:
            extra = {"api_access_endpoint": target.endpoint_url} if target.endpoint_url else {}
            url = blob.generate_signed_url(version="v4", method="GET", credentials=signer,
                                           expiration=dt.timedelta(minutes=SIGNED_URL_MINUTES), **extra)
            d.text = url
        _check_signed_fetch(log, url, data, "X-Goog-Signature", remote=target.kind != "emulator")
    finally:
        # 3. force=True deletes the objects first (up to 256 of them), then the bucket.
        with log.step("delete bucket") as d:
            bucket.delete(force=True)
            d.text = "bucket and its blobs deleted"


@functools.lru_cache(maxsize=4)  # RSA key generation takes ~0.1 s: once per project
def _throwaway_service_account(project: str):
    """A service-account credential with a fresh RSA key, only for signing URLs for the emulator."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return service_account.Credentials.from_service_account_info({
        "type": "service_account", "project_id": project, "private_key": pem,
        "client_email": f"emulator@{project}.iam.gserviceaccount.com",
        "token_uri": "http://127.0.0.1:9/token",  # never used: signing needs no token
    })
