"""The picture in the README: a chat in progress, at 1280x800."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"


@pytest.fixture
def screenshot_path(tmp_path: Path) -> Path:
    # PARLEY_UPDATE_SCREENSHOT=1 make test refreshes the README's picture;
    # otherwise the run leaves the working tree as it found it.
    return (
        README_SCREENSHOT if os.environ.get("PARLEY_UPDATE_SCREENSHOT") else tmp_path / "chat.png"
    )


def test_screenshot_of_the_chat_screen(make_user, screenshot_path: Path):
    alice = make_user("Alice", "Alice Martin")
    bob = make_user("Bob", "Bob Okafor")
    carol = make_user("Carol", "Carol Diaz")
    carol.start_chat(alice, bob, title="Release crew")
    carol.send("Release notes for 2.4 are up for review, ships Friday")
    alice.start_chat(bob)
    alice.send("Morning! Quick one about the release")
    bob.open_chat(alice.display_name)

    alice.open_chat("Release crew")
    alice.message_action("Release notes for 2.4 are up for review, ships Friday", "forward")
    alice.page.get_by_test_id("forward-target").filter(has_text=bob.display_name).click()
    alice.open_chat(bob.display_name)
    bob.send("Did the deploy go out?")
    alice.message_action("Did the deploy go out?", "reply")
    alice.send("Yes, all green. Canary at 10%, rolling out by noon.")
    bob.send("Great. I'll keep an eye on the dashboards\nand ping you if latency moves.")
    alice.message_action("Yes, all green. Canary at 10%, rolling out by noon.", "pin")
    alice.send("Thanks!")
    carol.send("Who is on call this weekend?")
    bob.composer.press_sequentially("On it", delay=30)

    page = alice.page
    expect(page.get_by_test_id("pinned-bar")).to_be_visible()
    expect(page.get_by_test_id("typing-indicator")).not_to_be_empty()
    expect(alice.message("Thanks!")).to_have_attribute("data-status", "READ")
    expect(alice.chat_item("Release crew").get_by_test_id("unread-count")).to_have_text("1")
    expect(page.get_by_test_id("toast")).to_be_hidden()
    page.mouse.move(0, 0)
    screenshot_path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot_path))
    assert screenshot_path.stat().st_size > 10_000
