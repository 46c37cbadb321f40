"""A short, dated comparison of the targets this lab generates files for.

Prices are list prices copied from the providers' public pricing pages on the date in
`PRICES_CHECKED`; they change, so the table says so and links the pages. Everything else is how
each platform works, which changes slowly.
"""

from __future__ import annotations

PRICES_CHECKED = "2026-03"  # when the prices below were read off the pricing pages
SOURCES = {
    "Hugging Face Spaces": "https://huggingface.co/docs/hub/spaces-gpus",
    "Replicate": "https://replicate.com/pricing",
}

COLUMNS = ("target", "cost (list price)", "cold start", "GPU access", "scaling", "effort")

ROWS = (
    ("Hugging Face Space (Gradio or Docker)",
     "CPU basic (2 vCPU, 16 GB) free; CPU upgrade $0.03/h; T4 small $0.40/h; 1x L4 $0.80/h; 1x L40S $1.80/h; "
     "ZeroGPU (shared H200 slices, Gradio only) with PRO at $9/month",
     "free tier sleeps after ~48 h idle: first visit rebuilds/starts the container (tens of seconds to minutes)",
     "pick hardware in Settings; ZeroGPU gives a GPU per call via @spaces.GPU",
     "one container per Space (no replicas); duplicate the Space or use Inference Endpoints to scale out",
     "lowest: git push a folder (this lab's publish button); a global audience gets a URL and a UI"),
    ("Replicate (cog)",
     "billed per second while running: CPU $0.36/h, T4 $0.81/h, L40S $3.51/h, A100 80GB $5.04/h, H100 $5.49/h; "
     "public models: only processing time; private models: setup and idle time too",
     "scales to zero: a cold boot loads the image and runs setup() (seconds to minutes, model-size bound)",
     "choose the GPU per model; CUDA/torch pair fixed in cog.yaml",
     "automatic, per request, including to zero; deployments set min/max instances",
     "low: cog.yaml + predict.py, `cog push`; you get an HTTP API and typed inputs, no UI to write"),
    ("Docker Compose + nginx (one VM you run)",
     "the VM's price, busy or idle (you pay per node-hour)",
     "none while the VM runs; `--scale` adds a replica in ~1 s plus the app's start-up",
     "whatever the VM has (NVIDIA Container Toolkit + `gpus:` in Compose)",
     "manual: `docker compose up --scale app=N`, nginx reload; one machine's worth",
     "medium: you own the VM, TLS, updates, logs and restarts"),
    ("Kubernetes (Deployment + Service)",
     "the cluster's nodes (plus a control-plane fee on most managed services)",
     "pods on warm nodes start in seconds; a new node takes minutes",
     "GPU node pools + the NVIDIA device plugin; `nvidia.com/gpu` resource requests",
     "HorizontalPodAutoscaler / KEDA, cluster autoscaler for nodes; scale to zero with KEDA",
     "highest: cluster operations, manifests, ingress, observability"),
)


def comparison_rows() -> list[list[str]]:
    """The comparison as table rows (for the UI)."""
    return [list(row) for row in ROWS]


def comparison_note() -> str:
    links = " · ".join(f"[{name}]({url})" for name, url in SOURCES.items())
    return (f"**Prices checked {PRICES_CHECKED}** (list prices in USD, before free grants or discounts; they change: "
            f"check {links} before deciding). Hugging Face is the cheapest way to put a demo in front of a global "
            "audience (free CPU tier, a URL and a UI); Replicate is the easiest pay-per-use GPU API; Compose and "
            "Kubernetes give you control at the price of running it yourself.")
