"""Browser and API smoke steps for the docker_mlops lab (used by test_browser and the Space export test)."""

SETTINGS = ("replica", "tiny-model", "tiny-model", "0.1.0", 3, "3.11", "2.6.0", "12.6", True, True)


def run_example(page) -> None:
    from playwright.sync_api import expect

    # Tab 1: one click on the first example fills the form, generates every file and lints it.
    page.locator("#docker_mlops-gen-example-0").click()
    summary = page.locator("#docker_mlops-gen-summary")
    expect(summary).to_contain_text("every check passed", timeout=120_000)
    expect(summary).to_contain_text("tiny-model:0.1.0")

    # Tab 2: real replicas behind a real nginx; one is killed and nginx routes around it.
    page.get_by_role("tab", name="2 · Replicas behind nginx").click()
    page.locator("#docker_mlops-replicas-run").click()
    result = page.locator("#docker_mlops-replicas-summary")
    expect(result).to_contain_text("All processes stopped: True", timeout=120_000)
    expect(result).to_contain_text("after killing r1")
    expect(result).to_contain_text("0 errors")


def api_smoke(client) -> None:
    out = client.predict(*SETTINGS, api_name="/docker_mlops_generate")
    assert "every check passed" in out[0], out[0]
    assert "FROM python:3.11" in out[3] and "USER 1000" in out[3], out[3][:400]
