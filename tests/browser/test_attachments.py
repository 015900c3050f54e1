"""Files in messages: one person attaches, the other sees them live, in two browsers."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.images import png

pytestmark = pytest.mark.browser


def test_an_image_one_person_attaches_shows_for_the_other_and_opens_larger(pair):
    alice, bob = pair
    image = png(120, 80)

    alice.page.get_by_test_id("attach-input").set_input_files(
        {"name": "sunset.png", "mimeType": "image/png", "buffer": image}
    )
    pending = alice.page.get_by_test_id("pending-attachment")
    expect(pending).to_contain_text("sunset.png")
    expect(pending).to_have_attribute("data-state", "done")
    alice.composer.press("Enter")

    expect(alice.page.get_by_test_id("pending-attachment")).to_have_count(0)
    thumb = bob.page.get_by_test_id("attachment-image")
    expect(thumb).to_be_visible()
    expect(thumb).to_have_attribute("alt", "sunset.png")
    # The browser fetched the picture itself from the storage (presigned GET).
    expect(thumb).to_have_js_property("naturalWidth", 120)
    expect(thumb).to_have_js_property("naturalHeight", 80)
    sent = alice.page.get_by_test_id("message").filter(
        has=alice.page.get_by_test_id("attachment-image")
    )
    expect(sent).to_have_attribute("data-state", "stored")

    thumb.click()

    larger = bob.page.get_by_test_id("lightbox-image")
    expect(larger).to_be_visible()
    expect(larger).to_have_js_property("naturalWidth", 120)
    bob.page.keyboard.press("Escape")
    expect(bob.page.get_by_test_id("lightbox")).to_have_count(0)


def test_a_file_shows_as_a_chip_with_its_name_size_and_a_download_link(pair):
    alice, bob = pair
    content = b"%PDF-1.4\n" + b"x" * 2000

    alice.page.get_by_test_id("attach-input").set_input_files(
        {"name": "minutes.pdf", "mimeType": "application/pdf", "buffer": content}
    )
    expect(alice.page.get_by_test_id("pending-attachment")).to_have_attribute("data-state", "done")
    alice.send("the minutes")

    message = bob.message("the minutes")
    chip = message.get_by_test_id("attachment-file")
    expect(chip.get_by_test_id("attachment-name")).to_have_text("minutes.pdf")
    expect(chip.get_by_test_id("attachment-size")).to_have_text("2.0 KB")
    href = chip.get_attribute("href")
    assert href and "minutes.pdf" in href
    downloaded = bob.page.request.get(href)
    assert downloaded.status == 200 and downloaded.body() == content


def test_a_type_the_server_refuses_is_reported_and_nothing_is_sent(pair):
    alice, _bob = pair

    alice.page.get_by_test_id("attach-input").set_input_files(
        {"name": "page.html", "mimeType": "text/html", "buffer": b"<p>hi</p>"}
    )

    expect(alice.page.get_by_test_id("pending-attachment")).to_have_attribute(
        "data-state", "failed"
    )
    expect(alice.page.get_by_test_id("toast")).to_contain_text("not accepted")
