"""The product list in a browser: live search, filters, sorting, paging, URLs and history."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Browsing

pytestmark = pytest.mark.browser


def api_total(api: httpx.Client, **filters: str) -> int:
    """How many products the JSON API finds with these filters: what the page must say."""
    response = api.get("/api/v1/products", params={**filters, "per_page": 1})
    response.raise_for_status()
    total: int = response.json()["total"]
    return total


def rows(page: Page) -> Locator:
    return page.get_by_test_id("product-table").locator("tbody tr")


def column(page: Page, number: int) -> Locator:
    return rows(page).locator(f"td:nth-child({number})")


def prices(page: Page) -> list[Decimal]:
    return [Decimal(text) for text in column(page, 3).all_inner_texts()]


def test_live_search_filters_sort_paging_and_history(
    desktop: Page, browsing: Browsing, api: httpx.Client
) -> None:
    page = desktop
    everything = api_total(api)
    lamps = api_total(api, q="lamp")  # Home's lamps and Outdoors' headlamps
    home_lamps = api_total(api, q="lamp", category="Home")
    home = api_total(api, category="Home")
    # The seed gives the story its shape: the search narrows, the category narrows it
    # further, and the category alone fills more than one page of 20.
    assert 0 < home_lamps < lamps < 20 < home <= 40 < everything

    page.goto("/products")
    count = page.get_by_test_id("stat-count")
    expect(count).to_have_text(str(everything))
    expect(rows(page)).to_have_count(20)

    # Typed like a person; htmx asks once the typing pauses, swaps the results and
    # pushes the URL of what is shown.
    page.get_by_test_id("product-search").press_sequentially("lamp", delay=40)
    expect(page).to_have_url(re.compile(r"/products\?(.+&)?q=lamp(&|$)"))
    expect(count).to_have_text(str(lamps))
    expect(rows(page)).to_have_count(lamps)
    for name in column(page, 1).all_inner_texts():
        assert "lamp" in name.lower()
    browsing.screenshot(page, "search")

    page.get_by_test_id("product-category").select_option("Home")
    expect(page).to_have_url(re.compile(r"category=Home"))
    expect(count).to_have_text(str(home_lamps))
    expect(column(page, 2)).to_have_text(["Home"] * home_lamps)

    # Clearing the search keeps the category: all of Home, over two pages.
    page.get_by_test_id("product-search").fill("")
    expect(count).to_have_text(str(home))
    expect(page).not_to_have_url(re.compile(r"q=lamp"))
    expect(column(page, 2)).to_have_text(["Home"] * 20)

    # The Price header sorts by price, cheapest first, and the sort box follows.
    page.get_by_test_id("sort-price").click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_text(re.compile(r"Price"))
    expect(page).to_have_url(re.compile(r"ordering=price(&|$)"))
    expect(page.get_by_test_id("product-ordering")).to_have_value("price")
    first_page = prices(page)
    assert first_page == sorted(first_page)
    first_names = column(page, 1).all_inner_texts()
    first_url = page.url

    page.get_by_test_id("next-page").click()
    pager = page.get_by_test_id("pager")
    expect(pager).to_contain_text("Page 2 of 2")
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows(page)).to_have_count(home - 20)
    expect(column(page, 2)).to_have_text(["Home"] * (home - 20))
    second_page = prices(page)
    assert second_page == sorted(second_page)
    assert second_page[0] >= first_page[-1]
    second_names = column(page, 1).all_inner_texts()
    second_url = page.url

    # Back and forward within the page: htmx restores each state and its URL.
    page.go_back()
    expect(page).to_have_url(first_url)
    expect(pager).to_contain_text("Page 1 of 2")
    expect(column(page, 1)).to_have_text(first_names)
    page.go_forward()
    expect(page).to_have_url(second_url)
    expect(pager).to_contain_text("Page 2 of 2")
    expect(column(page, 1)).to_have_text(second_names)

    # The pushed URL is the state: the server renders the same page from it.
    page.reload()
    expect(pager).to_contain_text("Page 2 of 2")
    expect(column(page, 1)).to_have_text(second_names)
    expect(page.get_by_test_id("product-category")).to_have_value("Home")
    expect(page.get_by_test_id("product-ordering")).to_have_value("price")
    expect(page.get_by_test_id("product-search")).to_have_value("")
    expect(page.locator("th[aria-sort=ascending]")).to_have_text(re.compile(r"Price"))
    expect(count).to_have_text(str(home))

    # Back after the reload: the first page, sorted, as it was.
    page.go_back()
    expect(page).to_have_url(first_url)
    expect(pager).to_contain_text("Page 1 of 2")
    expect(column(page, 1)).to_have_text(first_names)
    expect(page.get_by_test_id("product-category")).to_have_value("Home")


def test_filters_work_without_javascript(browsing: Browsing, api: httpx.Client) -> None:
    home_lamps = api_total(api, q="lamp", category="Home")
    page = browsing.new_page(javascript=False, viewport={"width": 1280, "height": 800})
    page.goto("/products")
    page.get_by_test_id("product-search").fill("lamp")
    page.get_by_test_id("product-category").select_option("Home")
    # The <noscript> button sends the plain GET form.
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/products\?q=lamp&category=Home"))
    expect(page.get_by_test_id("stat-count")).to_have_text(str(home_lamps))
    expect(column(page, 2)).to_have_text(["Home"] * home_lamps)
    expect(page.get_by_test_id("product-search")).to_have_value("lamp")
    expect(page.get_by_test_id("product-category")).to_have_value("Home")
