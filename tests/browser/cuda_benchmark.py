"""Browser steps for Lab 3 (cuda_benchmark): detect the hardware, click the quick example, read the result."""

from playwright.sync_api import expect


def run_example(page) -> None:
    page.locator("#cuda_benchmark_detect").click()
    expect(page.locator("#cuda_benchmark_card")).to_contain_text("torch build", timeout=120_000)

    page.locator("#cuda_benchmark_examples").get_by_text("Quick CPU check", exact=False).click()
    status = page.locator("#cuda_benchmark_status")
    expect(status).to_contain_text("Finished", timeout=240_000)
    expect(status).to_contain_text("Device:")
    # The naive-timing lesson is filled with a table comparing time.time() with the careful median.
    expect(page.locator("#cuda_benchmark_naive")).to_contain_text("careful median", timeout=30_000)
    expect(page.locator("#cuda_benchmark_matmul_plot")).to_be_visible()


def api_smoke(client) -> None:
    """The exported Space answers its API: hardware card, a tiny CPU run, the shipped comparison."""
    card, _ = client.predict(api_name="/cuda_benchmark_detect")
    assert "### CPU" in card, card
    out = client.predict("cpu", "32, 64", ["fp32"], "1", "torch.utils.benchmark", 0.05, True, False, False,
                         api_name="/cuda_benchmark_run")
    assert "Finished" in out[0], out[0]
    assert {row[0] for row in out[9]["data"]} == {"matmul", "copy", "add"}
