"""Browser and API smoke steps for the wheel_packaging lab (used by test_browser and the Space export test)."""


def run_example(page) -> None:
    from playwright.sync_api import expect

    # One click on the first shipped example fills the form and runs the whole pipeline.
    page.locator("#wheel_packaging_examples").get_by_text("tiny-moons 0.1.0 · MIT", exact=False).click()
    status = page.locator("#wheel_packaging_status")
    expect(status).to_contain_text("Trained", timeout=120_000)
    expect(status).to_contain_text("Installed in a fresh venv", timeout=240_000)
    expect(status).to_contain_text("License-Expression MIT")
    expect(status).to_contain_text("tiny_moons-0.1.0-py3-none-any.whl")
    page.get_by_role("tab", name="4 · Install & run").click()
    expect(page.locator("#wheel_packaging_proof")).to_contain_text("upper moon", timeout=30_000)


def api_smoke(client) -> None:
    out = client.predict("celsius2f", "0.3.0", "MIT", "temperature", "Grace Hopper", False,
                         api_name="/wheel_packaging_build")
    status, metadata = out[0], out[7]
    assert "Installed in a fresh venv" in status, status
    assert "License-Expression: MIT" in metadata, metadata
    assert "fahrenheit" in out[10], out[10]
