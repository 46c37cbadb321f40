"""Model inputs on a shared server: lab 4 (transformers_tour) and lab 10's depth model (png_to_glb).

Replays what a hostile visitor tries with the model boxes:

- naming a hub model so the server downloads it with the operator's `HF_TOKEN` (a recording
  listener stands in for the hub: no request may carry the fake token), or a huge one;
- uploading a tokenizer_config.json whose chat template loops ~10^10 times and passing the upload
  folder as the model (it must be stopped within its budget, with a clear message);
- typing server paths to learn which folders exist (one refusal, whether the path exists or not);
- clearing or resizing the loaded-model cache every visitor shares (operator only).

No network (the "hub" is a listener on 127.0.0.1) and no GPU.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from labs.png_to_glb import depth  # noqa: E402
from labs.transformers_tour import internals, loading, tasks, templates, tiny  # noqa: E402
from shared import serving  # noqa: E402
from tests.hostile import leaked_secrets  # noqa: E402

SLUG = "transformers_tour"
SHA = "0123456789abcdef0123456789abcdef01234567"
# ~10^10 iterations of an empty loop: hours of CPU in the sandbox, 150 bytes on disk.
LOOPING = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
PATH_REFUSAL = "Server paths are not accepted as a {what} on this shared server"


# The lab's tiny models live in a fresh folder for this module (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("tiny_cache")


@pytest.fixture
def uploads(tmp_path, monkeypatch):
    """gradio's upload folder (what visitors uploaded), in a temporary place."""
    root = tmp_path / "gradio-uploads"
    root.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root))
    return root


def uploaded_tokenizer(root: Path, template: str, name: str = "a1b2c3") -> Path:
    """What a visitor's upload of one tokenizer_config.json looks like on the server: <root>/<hash>/file."""
    folder = root / name
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "ByT5Tokenizer", "chat_template": template}))
    return folder


def model_info(files: dict[str, int]) -> bytes:
    return json.dumps({"id": "visitor/model", "sha": SHA, "private": False,
                       "siblings": [{"rfilename": name, "size": size} for name, size in files.items()]}).encode()


@pytest.fixture
def hub(recorder, monkeypatch, tmp_path):
    """The hub is the recording listener: online as far as the code can tell, empty local cache."""
    import huggingface_hub.constants as constants

    endpoint = recorder.url.rstrip("/")
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    # huggingface_hub reads these once, at import (conftest had set HF_HUB_OFFLINE=1 by then).
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    recorder.content_type = "application/json"
    recorder.reply = model_info({"config.json": 700, "model.safetensors": 10**6, "tokenizer.json": 2000})
    return recorder


def test_the_recorder_would_catch_a_leaked_token(operator_secrets, hub):
    """Control: a hub call that does not say token=False does send the operator's token here."""
    import huggingface_hub

    assert huggingface_hub.HfApi().model_info("control/model", timeout=5).sha == SHA
    assert "hf_operatorFAKEtoken" in leaked_secrets(hub.all_text())


# ---------------------------------------------------------------- 1. the operator's token


@pytest.mark.parametrize("mode", ["shared", "local"])
def test_tour_hub_calls_never_carry_the_operators_token(mode, operator_secrets, hub, monkeypatch):
    monkeypatch.setenv(serving.SHARED_ENV, "1" if mode == "shared" else "0")
    calls = [lambda: tasks.classify_text("hi", model="visitor/model", cache=loading.ModelCache(2)),
             lambda: internals.describe_model("visitor/model", "cpu", cache=loading.ModelCache(2)),
             lambda: internals.explore_tokens("hi", "visitor/model"),
             lambda: internals.render_chat("hi", "", "visitor/model")]
    for call in calls:
        with pytest.raises(ValueError, match="visitor/model"):  # the fake hub serves no real files
            call()
    paths = [seen.path for seen in hub.seen]
    assert any(p.startswith("/api/models/visitor/model") for p in paths)  # it really asked the "hub"
    assert any("/visitor/model/resolve/" in p for p in paths)  # and really tried to download
    assert not leaked_secrets(hub.all_text())
    if mode == "shared":  # downloads are pinned to the revision whose size was checked
        assert all(f"/resolve/{SHA}/" in p for p in paths if "/resolve/" in p)


def test_depth_model_hub_calls_carry_no_token_on_a_shared_server(shared_mode, operator_secrets, hub):
    with pytest.raises(depth.DepthModelError, match="visitor/model"):
        depth.resolve_model("visitor/model")
    paths = [seen.path for seen in hub.seen]
    assert f"/api/models/visitor/model/tree/{SHA}" in " ".join(paths)  # listed the checked revision
    assert not leaked_secrets(hub.all_text())


def test_too_big_hub_models_are_refused_before_any_download(shared_mode, operator_secrets, hub):
    hub.reply = model_info({"config.json": 700, "model.safetensors": 3 * 1024**3})
    with pytest.raises(depth.DepthModelError, match=r"3\.0 GB of files, above this lab's limit of 2\.0 GB"):
        depth.resolve_model("visitor/model")
    with pytest.raises(loading.ModelLoadError, match=r"3\.0 GB of weights, above this lab's limit"):
        tasks.classify_text("hi", model="visitor/model", cache=loading.ModelCache(2))
    # A tokenizer downloads no weights, but its own files are capped too.
    hub.reply = model_info({"config.json": 700, "tokenizer.json": 300 * 1024**2})
    with pytest.raises(loading.ModelLoadError, match="MB of config and tokenizer files, above this lab's limit"):
        internals.explore_tokens("hi", "visitor/model")
    assert hub.seen and all(seen.path.startswith("/api/models/") for seen in hub.seen)  # listings only
    assert not leaked_secrets(hub.all_text())


def test_an_unanswered_size_check_downloads_nothing_on_a_shared_server(shared_mode, hub):
    hub.reply = b"<html>not a listing</html>"
    with pytest.raises(loading.ModelLoadError, match="not in the local cache"):
        tasks.classify_text("hi", model="visitor/model", cache=loading.ModelCache(2))
    with pytest.raises(depth.DepthModelError, match="could not be looked up on the Hugging Face hub"):
        depth.resolve_model("visitor/model")
    assert hub.seen and all(seen.path.startswith("/api/") for seen in hub.seen)


# ---------------------------------------------------------------- 2. visitor-made chat templates


def test_a_looping_chat_template_is_stopped_within_its_budget(shared_mode, uploads):
    folder = uploaded_tokenizer(uploads, LOOPING)
    assert len((folder / "tokenizer_config.json").read_bytes()) < 200
    loading.load_tokenizer(loading.resolve_model(str(folder), "text-generation"))  # time only the render
    start = time.monotonic()
    with pytest.raises(templates.TemplateBudgetExceeded,
                       match=rf"chat template of '{folder}' ran past its {templates.SHARED_BUDGET_S:g} s budget and was stopped"):
        internals.render_chat("Hi", "", str(folder))
    assert time.monotonic() - start < templates.SHARED_BUDGET_S + 2


def test_normal_templates_still_render_fast_and_identically(shared_mode, uploads):
    from transformers import AutoTokenizer

    folder = uploaded_tokenizer(uploads, tiny.CHAT_TEMPLATE)
    out = internals.render_chat("What is the capital of France?", "Be brief.", str(folder))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    messages = internals.chat_messages("What is the capital of France?", "Be brief.")
    assert out["text"] == tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert out["text"].endswith("<|im_start|>assistant\n")
    start = time.monotonic()
    budgeted = templates.render(tokenizer, messages, add_generation_prompt=False, trusted=False)
    assert time.monotonic() - start < 1.0  # a forked child, not a fresh interpreter
    assert budgeted == templates.render(tokenizer, messages, add_generation_prompt=False, trusted=True)


def test_template_size_memory_output_and_errors_have_clear_messages(shared_mode, uploads):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(uploaded_tokenizer(uploads, "x"))
    messages = internals.chat_messages("Hi")
    cases = [("{# pad #}" * 10_000, ValueError, "characters; templates from outside this suite are rendered only up to"),
             ("{{ 'a' * 100000 }}", ValueError, "produced more than 65,536 characters"),
             ("{{ 'a' * 4000000000 }}", templates.TemplateBudgetExceeded, "tried to use more than 512 MB"),
             ("{{ raise_exception('no system messages') }}", ValueError, "failed: TemplateError: no system messages")]
    for template, error, message in cases:
        tokenizer.chat_template = template
        with pytest.raises(error, match=message):
            templates.render(tokenizer, messages, add_generation_prompt=True, trusted=False, name="'upload'")
    with pytest.raises(ValueError, match="The system message has 5,000 characters; at most 4,000"):
        internals.chat_messages("Hi", "s" * 5000)


# ---------------------------------------------------------------- 3. server paths


@pytest.mark.parametrize("path", ["/etc", "/nonexistent", "/etc/passwd", "../../../etc", "~/.ssh", "/tmp/../etc",
                                  "C:\\Windows"])
def test_server_paths_get_one_refusal_whether_they_exist_or_not(shared_mode, uploads, path):
    with pytest.raises(serving.RefusedInput) as tour:
        loading.resolve_model(path, "fill-mask")
    assert str(tour.value) == (PATH_REFUSAL.format(what="model") +
                               ": pick a model from the list or type a hub id like owner/name.")
    with pytest.raises(serving.RefusedInput) as lab10:
        depth.resolve_model(path)
    assert str(lab10.value) == (PATH_REFUSAL.format(what="depth model") + ": type a Hugging Face model id such as "
                                f"{depth.DEFAULT_DEPTH_MODEL}, or use the 'brightness' height source.")


def test_the_suites_folders_and_uploads_are_still_accepted(shared_mode, uploads, tiny_cache, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the repository root, which has labs/png_to_glb
    built = tiny_cache / "text-classification-v0"
    built.mkdir()
    (built / "config.json").write_text("{}")
    assert loading.resolve_model(str(built), "fill-mask").source == "local"
    upload = uploaded_tokenizer(uploads, tiny.CHAT_TEMPLATE)
    assert loading.resolve_model(str(upload), "fill-mask").location == str(upload.resolve())
    (upload / "config.json").write_text("{}")
    assert depth.resolve_model(str(upload)) == str(upload.resolve())
    # A hub-id-shaped text is a hub id, never a folder of the server's working directory.
    assert Path("labs/png_to_glb").is_dir()
    assert loading.resolve_model("labs/png_to_glb", "fill-mask").source == "hub"
    with pytest.raises(depth.DepthModelError, match="not in the local cache"):
        depth.resolve_model("labs/png_to_glb")


def test_locally_server_paths_work_as_before(tmp_path):
    assert not serving.is_shared()
    with pytest.raises(ValueError, match="not a model folder or hub id"):
        loading.resolve_model("/etc", "fill-mask")
    with pytest.raises(depth.DepthModelError, match="does not exist"):
        depth.resolve_model(str(tmp_path / "nonexistent"))


def test_a_depth_conversion_with_a_server_path_is_refused(shared_mode, uploads, tmp_path):
    from labs.png_to_glb.convert import Settings, convert
    from labs.png_to_glb.examples import draw_examples

    image = next(iter(draw_examples(tmp_path / "examples").values()))
    messages = set()
    for path in ("/etc", "/nonexistent"):
        with pytest.raises(serving.RefusedInput) as refused:
            convert(image, Settings(source="depth", depth_model=path, resolution=32), tmp_path / "out")
        messages.add(str(refused.value))
    assert len(messages) == 1


# ---------------------------------------------------------------- 4. the cache everyone shares


def test_the_shared_cache_is_operator_only_on_a_shared_server(monkeypatch):
    try:
        assert loading.clear_shared_cache() >= 0  # locally: works as before
        assert loading.resize_shared_cache(3) == [] and loading.CACHE.capacity == 3
        monkeypatch.setenv(serving.SHARED_ENV, "1")
        for action in (loading.clear_shared_cache, lambda: loading.resize_shared_cache(1)):
            with pytest.raises(serving.RefusedInput, match="affects everyone on this shared server, so only its operator"):
                action()
        assert loading.CACHE.capacity == 3
    finally:
        loading.CACHE.resize(loading.DEFAULT_CAPACITY)


# ---------------------------------------------------------------- 5. sizes a visitor controls


def test_visitor_sizes_are_capped_with_clear_messages(tmp_path):
    import wave

    cache = loading.ModelCache(2)
    with pytest.raises(ValueError, match="Each label may have at most 100 characters"):
        tasks.zero_shot("text", "sports, " + "x" * 101, cache=cache)
    with pytest.raises(ValueError, match="The labels box has 1,000,000 characters; give at most 10 labels"):
        tasks.zero_shot("text", "," * 1_000_000, cache=cache)
    with pytest.raises(ValueError, match="The texts box has 1,000,000 characters; give at most 8 lines"):
        internals.explore_tokens("\n" * 1_000_000)
    with pytest.raises(ValueError, match="seed must be between -1 \\(random\\) and 4294967295"):
        internals.GenerationSettings(seed=2**70).check()
    clip = tmp_path / "one-hertz.wav"
    with wave.open(str(clip), "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(1)
        wav.writeframes(b"\0\0" * 1000)
    with pytest.raises(ValueError, match="says it has 1 samples per second; give a clip recorded at 1,000 to"):
        tasks.read_wav(str(clip))


def test_generation_stops_at_the_shared_time_limit_and_says_so(shared_mode, monkeypatch):
    monkeypatch.setattr(tasks, "SHARED_GENERATION_SECONDS", 0.001)  # generate(max_time=...) stops after 1 token
    run = tasks.generate_text("Once upon a time", "tiny", "cpu", 100, False, cache=loading.ModelCache(2))
    assert any("Generation stopped after 0.001 s, this shared server's time limit" in n for n in run.notes)
    assert len(run.output) < len("Once upon a time there was")  # the toy model would replay a whole sentence
    settings = internals.GenerationSettings(max_new_tokens=100)
    last = list(internals.stream_generate("Paris is", settings=settings, cache=loading.ModelCache(2)))[-1]
    assert last.done and last.tokens <= 2 and "this shared server's time limit" in last.stats()


# ---------------------------------------------------------------- 6. through the app


@pytest.fixture(scope="module")
def tour_app():
    from labs.transformers_tour import app

    return app


def test_e2e_shared_server_refusals_through_gradio_client(tour_app, client_for, shared_mode, monkeypatch):
    import httpx
    from gradio_client.exceptions import AppError

    client = client_for(tour_app.demo)

    def upload(template: str, name: str) -> str:
        body = json.dumps({"tokenizer_class": "ByT5Tokenizer", "chat_template": template}).encode()
        reply = httpx.post(client.src.rstrip("/") + "/gradio_api/upload", timeout=30,
                           files={"files": ("tokenizer_config.json", body)})
        reply.raise_for_status()
        return str(Path(reply.json()[0]).parent)

    chatml = upload(tiny.CHAT_TEMPLATE, "chatml")  # a normal template renders (and warms transformers up)
    rendered, pieces, _ = client.predict("Hi", "", chatml, True, api_name=f"/{SLUG}_chat_template")
    assert rendered.endswith("<|im_start|>assistant\n")
    looping = upload(LOOPING, "looping")
    start = time.monotonic()
    with pytest.raises(AppError, match="ran past its 3 s budget and was stopped"):
        client.predict("Hi", "", looping, True, api_name=f"/{SLUG}_chat_template")
    assert time.monotonic() - start < templates.SHARED_BUDGET_S + 3
    refusals = set()
    for path in ("/etc", "/nonexistent"):
        with pytest.raises(AppError) as refused:
            client.predict("hi", path, "cpu", api_name=f"/{SLUG}_classify")
        refusals.add(str(refused.value))
    assert len(refusals) == 1 and "Server paths are not accepted as a model" in refusals.pop()
    with pytest.raises(AppError, match="affects everyone on this shared server"):
        client.predict(api_name=f"/{SLUG}_cache_clear")
    with pytest.raises(AppError, match="affects everyone on this shared server"):
        client.predict(2, api_name=f"/{SLUG}_cache_resize")
    table, text = client.predict(api_name=f"/{SLUG}_cache_view")
    assert "only its operator can resize or unload" in text
    # Opening the tab hides the controls (the client shows the slider's update; buttons have no value).
    assert client.predict(api_name=f"/{SLUG}_cache_on_open")[-1].get("visible") is False
