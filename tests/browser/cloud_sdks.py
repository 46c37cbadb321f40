"""Browser and API smoke steps for the cloud_sdks lab (used by test_browser and the Space export test)."""


def run_example(page) -> None:
    from playwright.sync_api import expect

    # Tab ②: one click runs the storage example on Azurite, moto and the GCS emulator.
    page.get_by_role("tab", name="② Same task, three SDKs").click()
    page.locator("#cloud_sdks-run-storage").click()
    summary = page.locator("#cloud_sdks-storage-summary")
    expect(summary).to_contain_text("which target each SDK hit", timeout=180_000)
    expect(summary).to_contain_text("Azurite")
    expect(summary).to_contain_text("moto server")
    expect(summary).to_contain_text("gcp-storage-emulator")
    expect(summary).to_contain_text("all OK")
    table = page.locator("#cloud_sdks-storage-table")
    expect(table).to_contain_text("fetch signed URL")
    expect(table).to_contain_text("HTTP 403")  # Azurite refuses the forged SAS link
    # The queue example on the same tab: Azure Queue Storage, SQS and Pub/Sub (the lab's gRPC stand-in).
    page.locator("#cloud_sdks-run-queues").click()
    queues = page.locator("#cloud_sdks-queue-summary")
    expect(queues).to_contain_text("Pub/Sub stand-in", timeout=180_000)
    expect(queues).to_contain_text("all OK")
    expect(page.locator("#cloud_sdks-queue-table")).to_contain_text("pull + ack each")

    # Tab ④: the package snapshot answers a search with counts per cloud.
    page.get_by_role("tab", name="④ All Python libraries").click()
    page.locator("#cloud_sdks-lib-query textarea, #cloud_sdks-lib-query input").first.fill("storage blob")
    page.locator("#cloud_sdks-lib-search").click()
    expect(page.locator("#cloud_sdks-lib-counts")).to_contain_text("matching rows", timeout=60_000)
    expect(page.locator("#cloud_sdks-lib-table")).to_contain_text("azure-storage-blob")

    # Back to tab ② for the screenshot.
    page.get_by_role("tab", name="② Same task, three SDKs").click()
    expect(summary).to_be_visible()


def api_smoke(client) -> None:
    verdict, rows = client.predict("My_Bucket.2024", api_name="/cloud_sdks_check_name")
    assert "my-bucket-2024" in verdict, verdict
    assert [r[1] for r in rows["data"]][:3] == ["invalid", "invalid", "invalid"], rows
    counts, libs = client.predict("storage blob", "Azure", "All", True, False, api_name="/cloud_sdks_search_libraries")
    assert "Snapshot of" in counts and any(r[1] == "azure-storage-blob" for r in libs["data"]), counts
