"""Registering for a webinar in a browser: inline errors, success, a clear duplicate message."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Browsing

pytestmark = pytest.mark.browser


def test_register_for_a_webinar(desktop: Page, browsing: Browsing) -> None:
    page = desktop
    # The form answers 422 (invalid) and 409 (already registered) with itself and the errors.
    browsing.allow_http_error(422, r"/webinars/\d+/register$")
    browsing.allow_http_error(409, r"/webinars/\d+/register$")

    page.goto("/webinars")
    page.get_by_test_id("webinar-list").get_by_role("link").nth(1).click()
    expect(page).to_have_url(re.compile(r"/webinars/\d+$"))
    page.wait_for_load_state()  # htmx sends the form from here on
    registered = page.get_by_test_id("registrant-count")
    before = int(registered.inner_text().split()[0])

    form = page.get_by_test_id("register-form")
    name, email = form.locator("#f-name"), form.locator("#f-email")
    email.fill("not-an-email")
    form.get_by_role("button", name="Register").click()
    # Each error sits in its field's fieldset; what was typed stays.
    name_error = form.locator("fieldset", has=page.locator("#f-name")).locator(
        "[data-error-for=name]"
    )
    email_error = form.locator("fieldset", has=page.locator("#f-email")).locator(
        "[data-error-for=email]"
    )
    expect(name_error).to_be_visible()
    expect(email_error).to_be_visible()
    expect(email_error).not_to_be_empty()
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_value("not-an-email")
    browsing.screenshot(page, "errors")

    address = f"browser-{uuid.uuid4().hex[:12]}@example.com"
    name.fill("Ada Browser")
    email.fill(address)
    form.get_by_role("button", name="Register").click()
    done = page.get_by_test_id("registered")
    expect(done).to_contain_text("You are registered for")
    expect(done).to_contain_text("Ada Browser")
    expect(page.get_by_test_id("register-card")).to_contain_text(address)
    browsing.screenshot(page, "registered")

    page.reload()
    expect(registered).to_have_text(f"{before + 1} people registered.")
    name.fill("Ada Again")
    email.fill(address)
    form.get_by_role("button", name="Register").click()
    expect(email_error).to_have_text(f"{address} is already registered for this webinar.")
    expect(email).to_have_value(address)
    expect(name_error).to_have_count(0)
    # A long message wraps inside the card: the field and the text stay within it.
    card = page.get_by_test_id("register-card").bounding_box()
    assert card is not None
    for element in (email, email_error):
        box = element.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= card["x"] + card["width"]
