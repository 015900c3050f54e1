"""The picture in the README: a chat in progress, at 1280x800."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"


def test_screenshot_of_the_chat_screen(pair, make_user):
    alice, bob = pair
    carol = make_user("Carol")
    carol.start_chat(alice, bob, title="Release crew")
    carol.send("Release notes are up for review")

    bob.send("Did the deploy go out?")
    alice.message_action("Did the deploy go out?", "reply")
    alice.send("Yes, all green. Canary at 10%, rolling out by noon.")
    bob.send("Great. I'll keep an eye on the dashboards\nand ping you if latency moves.")
    alice.message_action("Yes, all green. Canary at 10%, rolling out by noon.", "pin")
    alice.send("Thanks!")
    bob.composer.press_sequentially("On it", delay=30)

    page = alice.page
    expect(page.get_by_test_id("pinned-bar")).to_be_visible()
    expect(page.get_by_test_id("typing-indicator")).not_to_be_empty()
    expect(alice.message("Thanks!")).to_have_attribute("data-status", "READ")
    page.mouse.move(0, 0)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
