"""Browser tests: Debian's Chromium, driven by Playwright, against a running stack.

`live_stack` is the base URL of a running Parley (web client, REST API and
WebSocket API on one origin): `PARLEY_E2E_URL` when set, otherwise the
`gateway_url` fixture of the main test suite (the dev gateway started on
a free port with everything behind it).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from parley_dev.browser import LAUNCH_ARGS, ensure_chromium

TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def live_stack(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("PARLEY_E2E_URL")
    if url:
        return url.rstrip("/")
    return str(request.getfixturevalue("gateway_url")).rstrip("/")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=ensure_chromium(), args=list(LAUNCH_ARGS))
        yield chromium
        chromium.close()
    # Playwright's sync API leaves its own loop as the main thread's current
    # one; handlers called directly afterwards (Mangum) need a usable loop.
    asyncio.set_event_loop(asyncio.new_event_loop())


@dataclass
class ChatUser:
    """One person in one browser context, and what they can do in the UI."""

    username: str
    display_name: str
    password: str
    context: BrowserContext
    page: Page

    # -- finding things --------------------------------------------------

    def message(self, text: str) -> Locator:
        return self.page.get_by_test_id("message").filter(
            has=self.page.get_by_test_id("message-body").get_by_text(text, exact=True)
        )

    def chat_item(self, title: str) -> Locator:
        return self.page.get_by_test_id("chat-item").filter(
            has=self.page.get_by_test_id("chat-item-title").get_by_text(title, exact=True)
        )

    @property
    def composer(self) -> Locator:
        return self.page.get_by_test_id("composer")

    @property
    def connection(self) -> Locator:
        return self.page.get_by_test_id("connection-state")

    # -- doing things ------------------------------------------------------

    def register(self, base_url: str) -> None:
        self.page.goto(base_url + "/")
        self.page.get_by_test_id("auth-switch").click()
        self.page.get_by_label("Username").fill(self.username)
        self.page.get_by_label("Password").fill(self.password)
        self.page.get_by_label("Display name").fill(self.display_name)
        self.page.get_by_test_id("auth-submit").click()
        expect(self.page.get_by_test_id("me-name")).to_have_text(self.display_name)
        expect(self.connection).to_have_attribute("data-state", "online")

    def start_chat(self, *others: ChatUser, title: str | None = None) -> None:
        """Through the New chat dialog: direct with one person, a group with a title."""
        self.page.get_by_test_id("new-chat").click()
        dialog = self.page.get_by_test_id("new-chat-dialog")
        if title:
            dialog.get_by_text("Group", exact=True).click()
            dialog.get_by_label("Group name").fill(title)
        for other in others:
            dialog.get_by_label("Find people").fill(other.username)
            dialog.locator(
                f'[data-testid="new-chat-user"][data-username="{other.username}"]'
            ).check()
        dialog.get_by_test_id("new-chat-create").click()
        expect(dialog).to_be_hidden()
        expect(self.page.get_by_test_id("chat-title")).to_have_text(title or others[0].display_name)

    def open_chat(self, title: str) -> None:
        self.chat_item(title).click()
        expect(self.page.get_by_test_id("chat-title")).to_have_text(title)

    def send(self, text: str) -> None:
        self.composer.fill(text)
        self.composer.press("Enter")
        expect(self.composer).to_have_value("")

    def message_action(self, text: str, action: str) -> None:
        """Open a message's menu and pick `action` (reply, forward, pin, unpin, edit, delete)."""
        message = self.message(text)
        message.hover()
        message.get_by_test_id("message-actions").click()
        message.get_by_test_id(f"action-{action}").click()


@pytest.fixture
def make_user(live_stack: str, browser: Browser) -> Iterator[Callable[..., ChatUser]]:
    """Register a fresh user in a fresh browser context (its own storage)."""
    contexts: list[BrowserContext] = []

    def make(name: str, display_name: str | None = None) -> ChatUser:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        suffix = uuid.uuid4().hex[:8]
        user = ChatUser(
            username=f"{name.lower()}_{suffix}",
            display_name=display_name or f"{name} {suffix[:3].upper()}",
            password="correct horse battery",
            context=context,
            page=context.new_page(),
        )
        user.register(live_stack)
        return user

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def pair(make_user: Callable[..., ChatUser]) -> tuple[ChatUser, ChatUser]:
    """Alice and Bob, both signed in, with a direct chat open on both sides."""
    alice = make_user("Alice")
    bob = make_user("Bob")
    alice.start_chat(bob)
    alice.send("Hi Bob!")
    bob.open_chat(alice.display_name)
    expect(bob.message("Hi Bob!")).to_be_visible()
    return alice, bob
