"""A Sales staff member manages a webinar's registrants: search, notes, status and photos."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.conftest import Browsing
from tests.browser.helpers import log_in, main_nav

pytestmark = pytest.mark.browser
NOTES = "Met at the booth: <b>bold</b> & asked about pricing"


def test_sales_manages_registrants(desktop: Page, browsing: Browsing, tmp_path: Path) -> None:
    page = desktop
    page.goto("/login")
    log_in(page, "sales@example.com")
    expect(page.get_by_test_id("messages")).to_contain_text("Welcome back")

    main_nav(page).get_by_role("link", name="Webinars").click()
    page.get_by_test_id("webinar-list").get_by_role("link").first.click()
    page.get_by_test_id("manage-registrants").click()
    expect(page).to_have_url(re.compile(r"/webinars/\d+/registrants$"))
    page.wait_for_load_state()  # htmx listens from here on

    # Search for the first card's person by email: only that card is left.
    cards = page.get_by_test_id("registrant-card")
    email = cards.first.locator("a[href^='mailto:']").inner_text()
    page.get_by_test_id("registrant-search").fill(email)
    expect(page).to_have_url(re.compile(r"q="))
    expect(cards).to_have_count(1)
    expect(page.get_by_test_id("registrant-grid")).to_contain_text("1 registrant match.")
    # Every change swaps this card; its id finds the new one.
    card = page.locator(f"#{cards.get_attribute('id')}")
    expect(card).to_contain_text(email)

    # Notes, edited in place; markup typed in is kept as text, never rendered.
    card.get_by_test_id("edit-notes").click()
    textarea = card.get_by_role("textbox", name="Notes")
    expect(textarea).to_be_focused()
    textarea.fill(NOTES)
    card.get_by_test_id("save-notes").click()
    expect(card.get_by_test_id("card-saved")).to_have_text("Notes saved.")
    notes = card.get_by_test_id("registrant-notes")
    expect(notes).to_have_text(NOTES)
    expect(notes.locator("b")).to_have_count(0)
    expect(card.get_by_test_id("notes-form")).to_be_hidden()

    # Status: the select posts on change and the badge follows. The seed never uses
    # "attended" (the webinars are upcoming), so this is always a change.
    card.get_by_test_id("registrant-status").select_option("attended")
    expect(card.get_by_test_id("card-saved")).to_have_text("Status saved.")
    badge = card.locator(".badge")
    expect(badge).to_have_text("attended")
    expect(badge).to_have_class(re.compile(r"\bbadge-success\b"))

    # A photo: uploaded, shown from /media/, and it loads.
    picture = tmp_path / "portrait.png"
    Image.new("RGB", (96, 72), (230, 120, 40)).save(picture)
    card.get_by_test_id("photo-input").set_input_files(picture)
    card.get_by_test_id("photo-upload").click()
    expect(card.get_by_test_id("card-saved")).to_have_text("Photo saved.")
    photo = card.get_by_test_id("registrant-photo")
    expect(photo).to_have_attribute("src", re.compile(r"^/media/"))
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
    )
    source = photo.get_attribute("src")
    assert source is not None
    assert page.request.get(source).ok
    browsing.screenshot(page, "photo")

    # The edits are saved: a reload of the pushed URL shows them.
    page.reload()
    expect(cards).to_have_count(1)
    expect(notes).to_have_text(NOTES)
    expect(badge).to_have_text("attended")
    expect(photo).to_have_attribute("src", source)

    card.get_by_test_id("photo-remove").click()
    expect(card.get_by_test_id("card-saved")).to_have_text("Photo removed.")
    expect(photo).to_have_count(0)
    assert page.request.get(source).status == 404

    # A text file named .jpg: refused by its content, the error next to the field.
    browsing.allow_http_error(422, r"/registrants/\d+/photo$")
    fake = tmp_path / "holiday.jpg"
    fake.write_text("not a picture at all\n")
    card.get_by_test_id("photo-input").set_input_files(fake)
    card.get_by_test_id("photo-upload").click()
    expect(card.get_by_test_id("photo-error")).to_have_text(
        "The file is not a JPEG, PNG or WebP image we can read."
    )
    expect(photo).to_have_count(0)
