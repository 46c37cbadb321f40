"""The three clouds for ML, in the order the lab ranks them: strengths, weaknesses, cost, sign-in.

Prices are a dated table of on-demand list prices (Linux, one region each) recorded from each
provider's public pricing page. Nothing is fetched: prices change, so the UI always shows the
date and tells you to check the provider. The credential chains are read from the installed SDKs
(azure-identity and botocore build them in code), so they match the versions you run.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2025-05"  # when these list prices were recorded (before AWS's June 2025 P4/P5 price cut)
PRICE_SOURCES = {
    "Azure": "Azure 'Linux Virtual Machines Pricing' page (azure.microsoft.com/pricing/details/virtual-machines/linux/), East US, pay-as-you-go",
    "AWS": "AWS 'Amazon EC2 On-Demand Pricing' page (aws.amazon.com/ec2/pricing/on-demand/), US East (N. Virginia)",
    "Google Cloud": "Google Cloud 'GPU pricing' and 'VM instance pricing' pages (cloud.google.com/compute/gpus-pricing), us-central1",
}
PRICE_NOTES = (
    "On-demand list prices per hour for the whole VM (GPUs + CPUs + RAM), Linux, no discounts. "
    "Spot/preemptible capacity is typically 60-90% cheaper; 1- and 3-year commitments 30-60%. "
    "AWS announced up to ~45% lower on-demand prices for P4 and P5 instances in June 2025, after these were recorded."
)


@dataclass(frozen=True)
class GpuPrice:
    cloud: str
    instance: str
    gpus: int
    gpu: str
    usd_per_hour: float

    @property
    def per_gpu_hour(self) -> float:
        return self.usd_per_hour / self.gpus


GPU_PRICES = (
    GpuPrice("Azure", "NC4as T4 v3", 1, "T4 16 GB", 0.526),
    GpuPrice("Azure", "NC6s v3", 1, "V100 16 GB", 3.06),
    GpuPrice("Azure", "NC24ads A100 v4", 1, "A100 80 GB", 3.673),
    GpuPrice("Azure", "ND96asr A100 v4", 8, "A100 40 GB", 27.197),
    GpuPrice("Azure", "ND96isr H100 v5", 8, "H100 80 GB", 98.32),
    GpuPrice("AWS", "g4dn.xlarge", 1, "T4 16 GB", 0.526),
    GpuPrice("AWS", "g6.xlarge", 1, "L4 24 GB", 0.8048),
    GpuPrice("AWS", "g5.xlarge", 1, "A10G 24 GB", 1.006),
    GpuPrice("AWS", "p3.2xlarge", 1, "V100 16 GB", 3.06),
    GpuPrice("AWS", "p4d.24xlarge", 8, "A100 40 GB", 32.7726),
    GpuPrice("AWS", "p5.48xlarge", 8, "H100 80 GB", 98.32),
    GpuPrice("Google Cloud", "n1-standard-4 + 1× T4", 1, "T4 16 GB", 0.54),
    GpuPrice("Google Cloud", "g2-standard-4", 1, "L4 24 GB", 0.71),
    GpuPrice("Google Cloud", "a2-highgpu-1g", 1, "A100 40 GB", 3.673),
    GpuPrice("Google Cloud", "a2-ultragpu-1g", 1, "A100 80 GB", 5.069),
    GpuPrice("Google Cloud", "a3-highgpu-8g", 8, "H100 80 GB", 88.25),
)


@dataclass(frozen=True)
class CloudFacts:
    name: str
    rank: int
    ml_platform: str
    strengths: tuple[str, ...]
    weaknesses: tuple[str, ...]
    cost: tuple[str, ...]
    auth: str
    sdk_style: str


FACTS = (
    CloudFacts(
        "Azure", 1, "Azure Machine Learning + Azure AI Foundry (Azure OpenAI)",
        strengths=(
            "OpenAI's models (GPT family) under enterprise terms, in your own region and network, next to your data",
            "Azure ML: managed compute clusters, MLflow-native tracking and registry, managed online endpoints",
            "Microsoft Entra ID everywhere: one identity (users, managed identities) for every service and for data",
            "Large InfiniBand GPU clusters (ND H100/H200 v5), the same kind OpenAI trains on",
        ),
        weaknesses=(
            "GPU quota is per region and VM family and often needs a support request; capacity varies by region",
            "Two generations of ML SDK to untangle (azureml-core v1 vs azure-ai-ml v2), many azure-mgmt-* packages",
            "Data-plane and management-plane permissions are separate RBAC roles (a classic 403 trap)",
        ),
        cost=(
            "Per-minute billing for VMs; Azure ML adds no surcharge on top of the VM price",
            "Spot VMs (evictable) and 1/3-year reservations or savings plans for steady load",
            "Azure OpenAI: per-token or provisioned throughput units (PTUs)",
        ),
        auth="Microsoft Entra ID tokens via azure-identity (`DefaultAzureCredential`); storage also has account "
             "keys, SAS tokens and connection strings. Grant data access with roles such as *Storage Blob Data Contributor*.",
        sdk_style="One package per service (azure-storage-blob, azure-ai-ml, azure-mgmt-compute ...), all built on azure-core.",
    ),
    CloudFacts(
        "AWS", 2, "Amazon SageMaker AI + Amazon Bedrock",
        strengths=(
            "The broadest catalogue and the most regions; the largest ecosystem of ML tooling and examples",
            "SageMaker covers the lifecycle (notebooks, training jobs, pipelines, endpoints); Bedrock serves many model vendors",
            "Own accelerators (Trainium for training, Inferentia for inference) at a lower price per token than GPUs",
            "One SDK for everything: boto3 knows every service from botocore's data files",
        ),
        weaknesses=(
            "IAM policies are powerful but verbose; least-privilege takes work",
            "SageMaker instances cost more than the same EC2 instance; H100 capacity often needs Capacity Blocks",
            "Data egress and cross-AZ traffic are billed and easy to overlook",
        ),
        cost=(
            "Per-second billing on Linux; Savings Plans and Reserved Instances for steady load",
            "Spot instances (2-minute warning) for fault-tolerant training; Capacity Blocks to reserve GPUs for days",
            "Bedrock: per-token on demand or provisioned throughput",
        ),
        auth="IAM: access keys for users (avoid), roles with temporary credentials for everything else (instance "
             "profiles, ECS/EKS roles, SSO). boto3 walks its credential chain until one provider answers.",
        sdk_style="boto3 (high-level) on botocore (low-level, generated from JSON service models); one client per service.",
    ),
    CloudFacts(
        "Google Cloud", 3, "Vertex AI (+ BigQuery ML, GKE)",
        strengths=(
            "TPUs (v5e, v5p, Trillium) besides NVIDIA GPUs; Gemini models in Vertex AI",
            "BigQuery and BigQuery ML: SQL-first analytics and models where the data already is",
            "GKE is the reference managed Kubernetes; per-second billing; a simple project-based resource model",
        ),
        weaknesses=(
            "Smaller enterprise footprint; GPU availability differs a lot between zones",
            "Products renamed often (AI Platform → Vertex AI), so older tutorials mislead",
            "Fewer regions than AWS or Azure for the newest GPUs",
        ),
        cost=(
            "Per-second billing; sustained-use discounts apply automatically to some VM families",
            "Committed-use discounts (1/3 years) and Spot VMs (preemptible) for batch work",
            "Vertex AI prediction and training priced per node-hour; Gemini per token",
        ),
        auth="Google identities and service accounts; Application Default Credentials via `google.auth.default()`; "
             "service-account keys (JSON) work but workload identity federation is preferred.",
        sdk_style="One google-cloud-* package per API, generated from the APIs' protos, on google-api-core and google-auth.",
    ),
)


def price_caption() -> str:
    """The table's caption: the prices are a dated snapshot, not live figures."""
    return (f"Snapshot of on-demand list prices recorded in {PRICES_AS_OF}: they may be stale (prices change, "
            "and some have been cut since). Check the provider's pricing page before you decide.")


def price_rows() -> list[list]:
    """The dated price table: cloud, instance, GPUs, GPU model, $/hour, $/GPU-hour."""
    return [[p.cloud, p.instance, p.gpus, p.gpu, p.usd_per_hour, round(p.per_gpu_hour, 3)] for p in GPU_PRICES]


def cheapest_per_gpu(gpu_prefix: str) -> list[tuple[str, str, float]]:
    """(cloud, instance, $/GPU-hour) for one GPU model (e.g. 'A100'), cheapest first."""
    rows = [(p.cloud, p.instance, p.per_gpu_hour) for p in GPU_PRICES if p.gpu.startswith(gpu_prefix)]
    return sorted(rows, key=lambda r: r[2])


def facts_markdown(cloud: str | None = None) -> str:
    """The comparison in rank order: every cloud, or only `cloud`."""
    parts = []
    for f in FACTS:
        if cloud and f.name != cloud:
            continue
        parts.append(
            f"### {f.rank}. {f.name} — {f.ml_platform}\n"
            f"**Strengths for ML**\n" + "\n".join(f"- {s}" for s in f.strengths) +
            "\n\n**Weaknesses**\n" + "\n".join(f"- {s}" for s in f.weaknesses) +
            "\n\n**Cost model**\n" + "\n".join(f"- {s}" for s in f.cost) +
            f"\n\n**Sign-in:** {f.auth}\n\n**SDK style:** {f.sdk_style}\n")
    return "\n".join(parts)


def credential_chains() -> str:
    """Markdown: each SDK's default credential chain, read from the installed libraries where they expose it.

    Nothing is resolved: building the chains makes no network call and reads no secret.
    """
    lines = ["### Default credential chains (read from the installed SDKs)"]
    try:
        from azure.identity import DefaultAzureCredential

        chain = [getattr(c, "_credential_name", None) or type(c).__name__ for c in DefaultAzureCredential().credentials]
        lines.append("**Azure — `DefaultAzureCredential()`** tries, in order: " + " → ".join(f"`{c}`" for c in chain)
                     + ". The first that returns a token wins; InteractiveBrowserCredential is off by default.")
    except ImportError:
        lines.append("**Azure:** azure-identity is not installed, so its chain cannot be shown.")
    try:
        import botocore.credentials
        import botocore.session

        resolver = botocore.credentials.create_credential_resolver(botocore.session.get_session())
        chain = [p.METHOD for p in resolver.providers]
        lines.append("**AWS — boto3's chain** (after keys passed to `boto3.client(...)`): "
                     + " → ".join(f"`{c}`" for c in chain)
                     + ". `env` is AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; `iam-role` is the EC2 instance metadata service.")
    except ImportError:
        lines.append("**AWS:** botocore is not installed, so its chain cannot be shown.")
    lines.append("**Google Cloud — `google.auth.default()`** tries: `GOOGLE_APPLICATION_CREDENTIALS` (a key or "
                 "external-account file) → gcloud's application-default file (`gcloud auth application-default login`) → "
                 "App Engine → the Compute Engine / GKE / Cloud Run metadata server. (google-auth does not expose "
                 "the chain as objects, so this line is from its documentation.)")
    return "\n\n".join(lines)
