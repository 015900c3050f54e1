"""Two people chatting in two browsers, through the whole stack."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_sent_message_arrives_and_its_ticks_turn_read(pair):
    alice, bob = pair

    alice.send("Are you there?")

    expect(bob.message("Are you there?")).to_be_visible()
    sent = alice.message("Are you there?")
    expect(sent).to_have_attribute("data-state", "stored")
    # Bob has the chat open, so the message is read as soon as it shows.
    expect(sent).to_have_attribute("data-status", "READ")
    expect(sent.get_by_test_id("message-status")).to_have_attribute("aria-label", "Read")


def test_an_unread_message_is_counted_in_the_chat_list_until_opened(make_user):
    alice = make_user("Alice")
    bob = make_user("Bob")
    alice.start_chat(bob)

    alice.send("First")
    alice.send("Second")

    item = bob.chat_item(alice.display_name)
    expect(item.get_by_test_id("unread-count")).to_have_text("2")
    expect(item.get_by_test_id("chat-item-preview")).to_have_text("Second")
    expect(alice.message("Second")).to_have_attribute("data-status", "DELIVERED")

    bob.open_chat(alice.display_name)

    expect(item.get_by_test_id("unread-count")).to_be_hidden()
    expect(alice.message("Second")).to_have_attribute("data-status", "READ")


def test_typing_is_shown_to_the_other_person(pair):
    alice, bob = pair

    bob.composer.press_sequentially("typing something", delay=20)

    expect(alice.page.get_by_test_id("typing-indicator")).to_have_text(
        f"{bob.display_name} is typing…"
    )


def test_a_reply_quotes_the_message_it_answers(pair):
    alice, bob = pair

    bob.message_action("Hi Bob!", "reply")
    expect(bob.page.get_by_test_id("composer-context")).to_contain_text("Replying to")
    bob.send("Hello Alice")

    quote = alice.message("Hello Alice").get_by_test_id("reply-quote")
    expect(quote).to_contain_text(alice.display_name)
    expect(quote).to_contain_text("Hi Bob!")


def test_a_pinned_message_shows_in_the_pinned_bar_for_both(pair):
    alice, bob = pair

    bob.message_action("Hi Bob!", "pin")

    for user in (alice, bob):
        bar = user.page.get_by_test_id("pinned-bar")
        expect(bar).to_be_visible()
        expect(bar.get_by_test_id("pinned-text")).to_have_text("Hi Bob!")
        expect(user.message("Hi Bob!").get_by_test_id("pinned-mark")).to_be_visible()

    alice.page.get_by_test_id("pinned-unpin").click()

    expect(bob.page.get_by_test_id("pinned-bar")).to_be_hidden()


def test_a_forwarded_message_names_its_original_sender(pair, make_user):
    alice, bob = pair
    carol = make_user("Carol")
    bob.start_chat(alice, carol, title="Weekend plans")

    bob.page.get_by_test_id("chat-item").filter(has_text=alice.display_name).first.click()
    bob.message_action("Hi Bob!", "forward")
    bob.page.get_by_test_id("forward-target").filter(has_text="Weekend plans").click()

    carol.open_chat("Weekend plans")
    forwarded = carol.message("Hi Bob!")
    expect(forwarded.get_by_test_id("forwarded-label")).to_have_text(
        f"Forwarded from {alice.display_name}"
    )
    expect(forwarded.get_by_test_id("message-sender")).to_have_text(bob.display_name)


def test_an_edit_and_a_delete_reach_the_other_person(pair):
    alice, bob = pair
    alice.send("Lunch at 12?")
    expect(bob.message("Lunch at 12?")).to_be_visible()

    alice.message_action("Lunch at 12?", "edit")
    expect(alice.composer).to_have_value("Lunch at 12?")
    alice.composer.fill("Lunch at 1?")
    alice.composer.press("Enter")

    edited = bob.message("Lunch at 1?")
    expect(edited.get_by_test_id("edited-mark")).to_be_visible()
    expect(bob.message("Lunch at 12?")).to_have_count(0)

    alice.message_action("Lunch at 1?", "delete")
    alice.page.get_by_test_id("action-delete").click()  # "Delete for everyone?"

    deleted = bob.page.get_by_test_id("message").filter(has_text="message deleted")
    expect(deleted).to_have_count(1)
    expect(bob.message("Lunch at 1?")).to_have_count(0)
    expect(alice.page.get_by_test_id("message").filter(has_text="message deleted")).to_have_count(1)


def test_messages_sent_while_offline_arrive_once_after_reconnecting(pair):
    alice, bob = pair

    bob.context.set_offline(True)
    expect(bob.connection).to_have_attribute("data-state", re.compile("offline|connecting"))
    bob.send("Written offline 1")
    bob.send("Written offline 2")
    expect(bob.message("Written offline 1")).to_have_attribute("data-state", "pending")
    expect(bob.message("Written offline 2")).to_have_attribute("data-state", "pending")

    bob.context.set_offline(False)

    expect(bob.connection).to_have_attribute("data-state", "online")
    for text in ("Written offline 1", "Written offline 2"):
        expect(alice.message(text)).to_have_count(1)
        expect(bob.message(text)).to_have_attribute("data-state", "stored")
    bodies = alice.page.get_by_test_id("message-body").all_inner_texts()
    assert bodies.index("Written offline 1") < bodies.index("Written offline 2")
    expect(bob.message("Written offline 2")).to_have_count(1)


def test_a_dropped_connection_reconnects_and_misses_nothing(pair):
    alice, bob = pair

    bob.page.evaluate("window.parley.dropConnection()")
    alice.send("While you were reconnecting")

    expect(bob.connection).to_have_attribute("data-state", "online")
    expect(bob.message("While you were reconnecting")).to_have_count(1)
    bob.send("Back again")
    expect(alice.message("Back again")).to_have_count(1)


def test_the_online_list_shows_a_contact_going_offline(pair):
    # Presence changes reach the users who share a chat with that user.
    alice, bob = pair

    alice.page.get_by_test_id("tab-online").click()
    online = alice.page.get_by_test_id("online-user").filter(has_text=bob.display_name)
    expect(online).to_have_count(1)

    bob.page.close()

    expect(online).to_have_count(0)


def test_a_rejected_access_token_is_refreshed_and_the_socket_reconnects(pair):
    alice, bob = pair
    # Same expiry, broken signature: the server refuses it, the client cannot tell.
    alice.page.evaluate(
        """() => {
            const s = JSON.parse(localStorage.getItem('parley.session'));
            const tail = s.accessToken.endsWith('AAAA') ? 'BBBB' : 'AAAA';
            s.accessToken = s.accessToken.slice(0, -4) + tail;
            localStorage.setItem('parley.session', JSON.stringify(s));
        }"""
    )

    alice.page.reload()

    expect(alice.connection).to_have_attribute("data-state", "online")
    alice.open_chat(bob.display_name)
    alice.send("Still here")
    expect(bob.message("Still here")).to_have_count(1)


def test_signing_out_and_in_again_brings_the_chats_back(pair):
    alice, bob = pair

    alice.page.get_by_test_id("sign-out").click()
    expect(alice.page.get_by_test_id("auth-submit")).to_have_text("Sign in")
    alice.page.get_by_label("Username").fill(alice.username)
    alice.page.get_by_label("Password").fill(alice.password)
    alice.page.get_by_test_id("auth-submit").click()

    expect(alice.connection).to_have_attribute("data-state", "online")
    expect(alice.chat_item(bob.display_name).get_by_test_id("chat-item-preview")).to_have_text(
        "You: Hi Bob!"
    )
