"""Browser and API smoke steps for the keda_autoscaling lab (used by test_browser and the Space export test)."""

NAMES = ("web-waits", "rg-keda-lab", "westeurope", "kedalabacr2024", "law-keda-lab", "cae-keda-lab",
         "id-web-waits-pull", "web-waits", "v1")


def run_example(page) -> None:
    from playwright.sync_api import expect

    # Tab 1: generate the files and see every real validator pass.
    page.locator("#keda_autoscaling-generate").click()
    summary = page.locator("#keda_autoscaling-gen-summary")
    expect(summary).to_contain_text("every check passed", timeout=120_000)
    expect(summary).to_contain_text("cooldown 900 s")

    # Tab 2: one click on a shipped example fills both settings and simulates them.
    page.get_by_role("tab", name="2 · Simulate").click()
    page.locator("#keda_autoscaling-example-0").click()
    note = page.locator("#keda_autoscaling-sim-note")
    expect(note).to_contain_text("replica-seconds", timeout=90_000)
    expect(page.locator("#keda_autoscaling-sim-plot img, #keda_autoscaling-sim-plot svg").first).to_be_visible(timeout=60_000)


def api_smoke(client) -> None:
    out = client.predict(*NAMES, 0, 10, 10, 900, 30, "0.5 vCPU / 1 GiB", api_name="/keda_autoscaling_generate")
    assert "every check passed" in out[0], out[0]
    plot, table, note = client.predict("idle → ramp → burst → idle (1 h)", None, 0.5, 20, 0, 10, 10, 30, 900, 10,
                                       "aca_rate", 1, 10, 10, 30, 900, 10, "aca_rate",
                                       api_name="/keda_autoscaling_simulate")
    assert "replica-seconds" in note, note
