"""Browser and API smoke steps for the dataset_distillation lab (used by test_browser, the Space
export test and tests/test_dataset_distillation_app.py)."""

SLUG = "dataset_distillation"


def run_example(page) -> None:
    """Load the built-in digits, then run the default dataset distillation (random, herding, DM)."""
    from playwright.sync_api import expect

    page.locator(f"#{SLUG}_load_builtin").click()
    expect(page.locator(f"#{SLUG}_preview")).to_contain_text("1,797 samples", timeout=90_000)
    expect(page.locator(f"#{SLUG}_current")).to_contain_text("digits")
    page.get_by_role("tab", name="4 · Dataset distillation").click()
    page.locator(f"#{SLUG}_dd_run").click()
    result = page.locator(f"#{SLUG}_dd_result")
    expect(result).to_contain_text("best is", timeout=240_000)
    expect(result).to_contain_text("k = 10")
    expect(page.locator(f"#{SLUG}_dd_table")).to_contain_text("Distribution matching")
    expect(page.locator(f"#{SLUG}_dd_plot img, #{SLUG}_dd_plot canvas, #{SLUG}_dd_plot svg").first).to_be_visible()


def api_smoke(client) -> None:
    """Load iris and run a tiny dataset distillation through the API."""
    out = client.predict("iris", api_name=f"/{SLUG}_builtin")
    current, preview = out[0], out[1]  # (the gr.State output is not part of the API)
    assert "150 samples" in preview and "3 classes" in preview, preview[:500]
    assert "iris" in current
    md, plot, table, samples, files = client.predict(["random", "DM"], ["1", "5"], 1, "MLP", 50, 5,
                                                     api_name=f"/{SLUG}_condense")
    assert "Full training set" in md and "k = 5" in md, md[:500]
    assert len(table["data"]) == 4, str(table)[:500]
    assert any("_dm_k5" in str(f.get("path", f) if isinstance(f, dict) else f) for f in files), str(files)[:500]
