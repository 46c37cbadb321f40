"""How demand for these skills differs by organisation, tied to the three parts of the lab.

A compact, opinionated comparison for discussion in a workshop, not a survey: each row says what
the organisation's stack favours and why, and which part of this lab practises it. The same facts
live in the knowledge base (`knowledge_base.json`, the `demand` array of each skill), so the
NoSQL part can query them: try "Skills an organisation demands" with @org = OpenAI.
"""

from __future__ import annotations

ORGS = [
    {
        "org": "NVIDIA",
        "favours": "C++ and CUDA, plus SQL for cluster telemetry",
        "why": "The product is the GPU and its libraries (cuBLAS, cuDNN, NCCL, TensorRT): kernels are written "
               "in C++/CUDA and exposed to Python through bindings.",
        "part": "① Wrapping: ctypes, pybind11, torch extensions and the CUDA kernel",
    },
    {
        "org": "OpenAI",
        "favours": "C++/CUDA and SQL at HPC scale",
        "why": "Training and serving frontier models is an HPC problem: custom kernels (Triton, CUDA) and "
               "petabyte-scale data pipelines queried with SQL.",
        "part": "① Wrapping and ② the knowledge base queries",
    },
    {
        "org": "Anthropic",
        "favours": "React/TypeScript front ends (with Python research code behind them)",
        "why": "The product people touch is a chat interface and its apps; streaming model output into a "
               "responsive UI is front-end work.",
        "part": "The Gradio UI you are using is the Python stand-in for that layer",
    },
    {
        "org": "Hugging Face",
        "favours": "Open source, community and the Hub",
        "why": "The product is the Hub and its libraries (transformers, huggingface_hub, Gradio): publishing, "
               "model cards, caching and Spaces are the daily work.",
        "part": "③ huggingface_hub: search, download, cache, publish, Spaces",
    },
]


def comparison_markdown() -> str:
    """The comparison as a Markdown table."""
    rows = "\n".join(f"| **{o['org']}** | {o['favours']} | {o['why']} | {o['part']} |" for o in ORGS)
    return ("| Organisation | Stack favours | Why | Practised here in |\n|---|---|---|---|\n" + rows +
            "\n\nThese are broad tendencies from public job posts and engineering blogs; every one of these "
            "organisations hires for all of the skills.")
