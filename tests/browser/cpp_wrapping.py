"""Browser and API smoke steps for the cpp_wrapping lab (used by test_browser and the Space export test)."""


def run_example(page) -> None:
    from playwright.sync_api import expect

    # The suite selects its start tab from the address when the page has loaded; if that switched
    # the view away after the tab click, open our tab again.
    run = page.locator("#cpp_wrapping-run")
    if not run.is_visible():
        page.wait_for_timeout(2000)
        if not run.is_visible():
            page.get_by_role("tab", name="CUDA wrapping, NoSQL and the Hub").click()
    expect(run).to_be_visible()

    # Part 1: the one-click example compiles the fast ways (ctypes, CUDA) and runs them.
    page.locator("#cpp_wrapping-run").click()
    summary = page.locator("#cpp_wrapping-summary")
    expect(summary).to_contain_text("techniques ran", timeout=180_000)
    expect(summary).to_contain_text("identical to NumPy")
    table = page.locator("#cpp_wrapping-table")
    expect(table).to_contain_text("C++ via ctypes")
    expect(table).to_contain_text("Pure Python")

    # Part 2: a shipped Cosmos query runs on the SQLite stand-in.
    page.get_by_role("tab", name="② NoSQL knowledge base").click()
    page.locator("#cpp_wrapping-run-query").click()
    expect(page.locator("#cpp_wrapping-rows")).to_contain_text("FlashAttention", timeout=60_000)

    # Semantic search: the shipped question finds GPU material by meaning (MiniLM + VectorDistance).
    page.get_by_text("Semantic search: MiniLM embeddings + VectorDistance").click()
    page.locator("#cpp_wrapping-semantic").click()
    expect(page.locator("#cpp_wrapping-semantic-rows")).to_contain_text("cuda_benchmark", timeout=60_000)

    # Back to part 1 for the screenshot.
    page.get_by_role("tab", name="① Wrap C++ & CUDA").click()
    expect(summary).to_be_visible()


def api_smoke(client) -> None:
    from labs.cpp_wrapping import knowledge

    summary, table, *_ = client.predict(["Pure Python", "NumPy", "C++ via ctypes"], 2.5, 8, 10_000,
                                        "", "", "", "", api_name="/cpp_wrapping_run")
    assert "identical" in summary, summary
    rows, sql, sdk, notes = client.predict(knowledge.EXAMPLES[0][1], "[]", "(cross-partition)",
                                           api_name="/cpp_wrapping_query")
    assert [r["year"] for r in rows] == [2022, 2022, 2021, 2020], rows
    rows, statements, note = client.predict("fine-tuning a big language model cheaply", 3, "",
                                            api_name="/cpp_wrapping_semantic_search")
    assert rows[0]["id"] == "paper-lora" and "VectorDistance" in statements, rows
