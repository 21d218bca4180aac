"""Site-wide behaviour in a browser: theme, sign-in and out, the admin, 404s, the mobile menu."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Browsing, LiveServer
from tests.browser.helpers import log_in, main_nav

pytestmark = pytest.mark.browser


def test_theme_toggle_is_remembered(desktop: Page, browsing: Browsing) -> None:
    page = desktop
    page.goto("/")
    html = page.locator("html")
    toggle = page.get_by_test_id("theme-toggle")
    expect(html).to_have_attribute("data-theme", "light")
    expect(toggle).to_have_attribute("aria-pressed", "false")

    toggle.click()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("localStorage.getItem('theme')") == "dark"

    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    browsing.screenshot(page, "dark-home")
    main_nav(page).get_by_role("link", name="Webinars").click()
    expect(page).to_have_url(re.compile(r"/webinars$"))
    expect(html).to_have_attribute("data-theme", "dark")
    browsing.screenshot(page, "dark-webinars")
    page.get_by_test_id("webinar-list").get_by_role("link").first.click()
    expect(html).to_have_attribute("data-theme", "dark")
    browsing.screenshot(page, "dark-webinar")
    main_nav(page).get_by_role("link", name="Products").click()
    expect(page).to_have_url(re.compile(r"/products$"))
    expect(html).to_have_attribute("data-theme", "dark")
    browsing.screenshot(page, "dark-products")
    page.get_by_role("link", name="Log in", exact=True).click()
    expect(html).to_have_attribute("data-theme", "dark")
    browsing.screenshot(page, "dark-login")

    page.get_by_test_id("theme-toggle").click()
    expect(html).to_have_attribute("data-theme", "light")
    page.reload()
    expect(html).to_have_attribute("data-theme", "light")


def test_admin_sign_in_and_product_list(desktop: Page, browsing: Browsing) -> None:
    page = desktop
    page.goto("/admin")
    # The admin has no login of its own: the site's, and back to the admin afterwards.
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fadmin%2F$"))
    log_in(page, "admin@example.com")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    sidebar = page.locator("aside, nav, .navbar").filter(has_text="Products").first
    for model in ("Products", "Webinars", "Webinar Registrants", "Users", "Groups", "Audit Logs"):
        expect(sidebar.get_by_role("link", name=model, exact=True)).to_be_visible()
    browsing.screenshot(page, "index")

    sidebar.get_by_role("link", name="Products", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/product/list$"))
    table_rows = page.locator("table tbody tr")
    expect(table_rows.first).to_be_visible()
    assert table_rows.count() > 1
    expect(page.locator("table")).to_contain_text(re.compile(r"\d+\.\d\d"))  # prices


def test_log_in_and_out_from_the_navbar(desktop: Page, browsing: Browsing) -> None:
    page = desktop
    page.goto("/")
    page.get_by_role("link", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login"))
    browsing.screenshot(page, "login")
    log_in(page, "user@example.com")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("messages")).to_contain_text("Welcome back, Una User.")

    menu = page.get_by_test_id("user-menu")
    expect(menu).to_contain_text("Una User")
    expect(page.get_by_role("link", name="Log in", exact=True)).to_have_count(0)
    menu.click()
    dropdown = page.locator("details", has=menu)
    expect(dropdown.get_by_role("link", name="Your account")).to_be_visible()
    expect(dropdown.get_by_role("link", name="Admin")).to_have_count(0)  # not staff
    browsing.screenshot(page, "menu")
    dropdown.get_by_role("button", name="Log out").click()

    expect(page.get_by_test_id("messages")).to_contain_text("You are signed out.")
    expect(page.get_by_role("link", name="Log in", exact=True)).to_be_visible()
    expect(menu).to_have_count(0)
    # Signed out for real: the account page asks to sign in again.
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))


def test_not_found_page_has_the_site_look(desktop: Page, browsing: Browsing) -> None:
    page = desktop
    browsing.allow_http_error(404, r"/no-such-page$")
    response = page.goto("/no-such-page")
    assert response is not None
    assert response.status == 404
    error = page.get_by_test_id("error-page")
    expect(error).to_contain_text("404")
    expect(error.get_by_role("heading", level=1)).to_have_text("Page not found")
    # The site's frame and styles: navigation, footer, the built stylesheet applied.
    expect(main_nav(page).get_by_role("link", name="Products")).to_be_visible()
    expect(page.locator("footer")).to_contain_text("fastmango")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    browsing.screenshot(page, "404")
    error.get_by_role("link", name="Back to the home page").click()
    expect(page).to_have_url(re.compile(r"/$"))


def test_mobile_menu(browsing: Browsing, live_server: LiveServer) -> None:
    page = browsing.new_page(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        color_scheme="light",
    )
    page.goto("/")
    # The navigation bar collapses into the menu button.
    expect(main_nav(page)).to_be_hidden()
    button = page.locator("summary[aria-label=Menu]")
    expect(button).to_be_visible()
    products = page.locator("details.dropdown").first.get_by_role("link", name="Products")
    expect(products).to_be_hidden()
    button.tap()
    expect(products).to_be_visible()
    browsing.screenshot(page, "menu-open")
    products.tap()
    expect(page).to_have_url(f"{live_server.url}/products")
    expect(page.get_by_test_id("product-table")).to_be_visible()
    # Nothing wider than the screen: the table scrolls inside its card.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_console_errors_and_csp_violations_are_caught(desktop: Page, browsing: Browsing) -> None:
    """The watch every test relies on: what it catches, and that it names the element."""
    page = desktop
    page.goto("/")
    with page.expect_console_message(lambda message: message.type == "error"):
        page.evaluate("console.error('something broke')")
    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('uncaught') })")
    # An inline style attribute, which the Content-Security-Policy refuses; the promise
    # settles after the violation event, so the report has reached the test by then.
    page.evaluate(
        """() => new Promise((resolve) => {
            document.addEventListener("securitypolicyviolation", () => setTimeout(resolve), {
                once: true,
            });
            document.querySelector("footer").setAttribute("style", "color: red");
        })"""
    )
    caught = "\n".join(browsing.problems)
    assert "something broke" in caught
    assert re.search(r"uncaught exception on .*/: uncaught", caught), caught
    assert re.search(r"CSP violation on .*/: style-src\S* blocked 'inline'", caught), caught
    assert "by <footer" in caught
    browsing.problems.clear()  # all expected: this test passes
