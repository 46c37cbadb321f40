"""Benchmark for Lab 8: per-operation latency of each cloud SDK against its local emulator.

    python benchmarks/cloud_sdks.py [--repeats 30] [--size 4096]

For Azure (azure-storage-blob → Azurite), AWS (boto3 → moto server) and Google Cloud
(google-cloud-storage → gcp-storage-emulator) it times put, get, list and delete of one object,
`--repeats` times each, and prints the median and p90 in milliseconds. The baseline, measured in
the same run against the same emulator and object: a plain HTTP GET of a signed URL with urllib
(no SDK), so `get / raw GET` is the SDK's own overhead on that call. The emulators are not the
clouds: these figures compare SDK client overhead on loopback, not cloud service latency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labs.cloud_sdks import credentials, emulators  # noqa: E402
from labs.cloud_sdks.steps import http_get  # noqa: E402

BUCKET = "bench-latency"


def timed(fn, repeats: int) -> list[float]:
    """Milliseconds of each call of fn(i)."""
    out = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def azure_ops(data: bytes):
    from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

    t = credentials.azure_target(credentials.Credentials())
    container = BlobServiceClient.from_connection_string(t.connection_string).create_container(BUCKET)
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)

    def url(i):
        sas = generate_blob_sas(t.account_name, BUCKET, f"o{i}", account_key=t.account_key,
                                permission=BlobSasPermissions(read=True), expiry=expiry)
        return f"{container.get_blob_client(f'o{i}').url}?{sas}"

    return {
        "put": lambda i: container.upload_blob(f"o{i}", data, overwrite=True),
        "get": lambda i: container.download_blob(f"o{i}").readall(),
        "list": lambda i: list(container.list_blobs()),
        "url": url,
        "delete": lambda i: container.delete_blob(f"o{i}"),
        "cleanup": lambda: container.delete_container(),
    }


def aws_ops(data: bytes):
    import boto3
    from botocore.config import Config

    t = credentials.aws_target(credentials.Credentials())
    s3 = boto3.client("s3", config=Config(signature_version="s3v4"), **t.client_kwargs())
    s3.create_bucket(Bucket=BUCKET)
    return {
        "put": lambda i: s3.put_object(Bucket=BUCKET, Key=f"o{i}", Body=data),
        "get": lambda i: s3.get_object(Bucket=BUCKET, Key=f"o{i}")["Body"].read(),
        "list": lambda i: s3.list_objects_v2(Bucket=BUCKET),
        "url": lambda i: s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": f"o{i}"}, ExpiresIn=3600),
        "delete": lambda i: s3.delete_object(Bucket=BUCKET, Key=f"o{i}"),
        "cleanup": lambda: s3.delete_bucket(Bucket=BUCKET),
    }


def gcp_ops(data: bytes):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from labs.cloud_sdks.storage import _throwaway_service_account

    t = credentials.gcp_target(credentials.Credentials())
    client = storage.Client(project=t.project, credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": t.endpoint_url})
    bucket = client.create_bucket(BUCKET)
    signer = _throwaway_service_account(t.project)
    return {
        "put": lambda i: bucket.blob(f"o{i}").upload_from_string(data),
        "get": lambda i: bucket.blob(f"o{i}").download_as_bytes(),
        "list": lambda i: list(client.list_blobs(BUCKET)),
        "url": lambda i: bucket.blob(f"o{i}").generate_signed_url(
            version="v4", method="GET", credentials=signer, expiration=dt.timedelta(hours=1),
            api_access_endpoint=t.endpoint_url),
        "delete": lambda i: bucket.blob(f"o{i}").delete(),
        "cleanup": lambda: bucket.delete(force=True),
    }


def summarise(ms: list[float]) -> str:
    ms = sorted(ms)
    return f"{statistics.median(ms):7.2f} ms (p90 {ms[int(0.9 * (len(ms) - 1))]:6.2f})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--size", type=int, default=4096, help="object size in bytes")
    args = parser.parse_args(argv)
    data = b"x" * args.size
    started = emulators.POOL.ensure(list(emulators.SPECS))
    for key, emu in started.items():
        print(f"{key}: {emu if isinstance(emu, Exception) else emu.describe() + f', started in {emu.started_s:.1f} s'}")
    builders = {"Azure (azure-storage-blob → Azurite)": ("azurite", azure_ops),
                "AWS (boto3 → moto server)": ("moto", aws_ops),
                "Google Cloud (google-cloud-storage → gcp-storage-emulator)": ("gcs", gcp_ops)}
    medians = {}
    try:
        for label, (key, build) in builders.items():
            if isinstance(started[key], Exception):
                print(f"\n{label}: skipped ({started[key]})")
                continue
            ops = build(data)
            ops["put"](0), ops["get"](0)  # warm-up: connection pool, first-call imports
            results = {"put": timed(ops["put"], args.repeats), "get": timed(ops["get"], args.repeats),
                       "list": timed(ops["list"], args.repeats)}
            urls = [ops["url"](i) for i in range(args.repeats)]
            results["raw GET (urllib, signed URL)"] = timed(lambda i: http_get(urls[i]), args.repeats)
            results["delete"] = timed(ops["delete"], args.repeats)
            ops["cleanup"]()
            print(f"\n{label}, {args.repeats} x {args.size} B")
            for op, ms in results.items():
                print(f"  {op:<30} {summarise(ms)}")
            get_ms = statistics.median(results["get"])
            raw_ms = statistics.median(results["raw GET (urllib, signed URL)"])
            medians[label] = get_ms
            print(f"  ratio get / raw GET: {get_ms / raw_ms:.2f}x (the SDK's overhead over plain HTTP on the same emulator)")
        if medians:
            fastest = min(medians.values())
            print("\nget, median, relative to the fastest SDK+emulator pair:")
            for label, ms in medians.items():
                print(f"  {label:<60} {ms:7.2f} ms  {ms / fastest:5.2f}x")
    finally:
        emulators.POOL.stop_all()


if __name__ == "__main__":
    main()
