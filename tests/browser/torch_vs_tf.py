"""Browser and API smoke steps for the torch_vs_tf lab (used by test_browser and the Space export test)."""


def run_example(page) -> None:
    from playwright.sync_api import expect

    # One click: fills the settings (MLP, 3 epochs on digits) and trains every framework side by side.
    page.locator("#torch_vs_tf_example_mlp").click()
    status = page.locator("#torch_vs_tf_status")
    expect(status).to_contain_text("Parameter counts are equal", timeout=240_000)
    expect(status).to_contain_text("Done:", timeout=240_000)
    summary = page.locator("#torch_vs_tf_summary")
    expect(summary).to_contain_text("PyTorch")
    expect(summary).to_contain_text("17226")
    # Then the trained models answer a shipped example digit, next to each other.
    page.get_by_role("tab", name="Draw & predict").click()
    page.locator("#torch_vs_tf_example_digit_7").click()
    page.locator("#torch_vs_tf_predict_image").click()
    expect(page.locator("#torch_vs_tf_verdict")).to_contain_text("agree", timeout=120_000)
    expect(page.locator("#torch_vs_tf_label_0")).to_contain_text("7")


def api_smoke(client) -> None:
    summary, status = client.predict("digits", None, "mlp", 1, 64, 0.003, "adam", 42, "eager", 1, False,
                                     api_name="/torch_vs_tf_train")[2:4]
    assert "Parameter counts are equal" in status, status
    assert summary["data"][0][0] == "PyTorch" and summary["data"][0][2] == 17226
