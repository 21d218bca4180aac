"""What several browser tests do: sign in through the login form, read a table column."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from management.demo_data import DEMO_PASSWORD


def log_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Fill and send the login form on the current page (the login page)."""
    form = page.locator("form", has=page.locator("input[name=password]"))
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    form.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login(\?|$)"))


def main_nav(page: Page) -> Locator:
    """The desktop navigation bar's links (the mobile menu has the same ones)."""
    return page.get_by_role("navigation", name="Main")
