"""Two users, each with two connections, through the dev gateway over real sockets."""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.chatters import Chatters
from tests.support.peers import WAIT_SECONDS


def _eventually(check, timeout: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_handshake_without_a_valid_token_is_refused_with_401(chatters: Chatters) -> None:
    with (
        pytest.raises(InvalidStatus) as refused,
        connect(f"{chatters.ws_url}?token=forged", open_timeout=WAIT_SECONDS),
    ):
        pass

    assert refused.value.response.status_code == 401


def test_send_reaches_every_connection_and_delivered_then_read_flow_back(
    chatters: Chatters,
) -> None:
    alice, alice_tab = chatters.open(chatters.alice), chatters.open(chatters.alice)
    bob, bob_tab = chatters.open(chatters.bob), chatters.open(chatters.bob)
    data = {"chatId": str(chatters.group), "body": "hello bob", "clientMessageId": "e2e-1"}

    ack = alice.request("message", data)

    message = ack["message"]
    assert ack["status"] == "ok" and message["seq"] == 1
    for peer in (alice_tab, bob, bob_tab):
        assert peer.wait_for("message", lambda d: d["id"] == message["id"])["body"] == "hello bob"
    alice.wait_for(
        "message:status",
        lambda d: (
            d["messageId"] == message["id"]
            and d.get("userId") == str(chatters.bob)
            and d["status"] == "DELIVERED"
        ),
    )

    retry = alice.request("message", data)
    assert retry["message"]["id"] == message["id"]
    assert not bob.has("message", lambda d: d["id"] == message["id"])

    assert (
        bob.request("message:read", {"chatId": str(chatters.group), "messageId": message["id"]})[
            "status"
        ]
        == "ok"
    )
    for peer in (alice, alice_tab):
        peer.wait_for(
            "message:status",
            lambda d: (
                d["messageId"] == message["id"] and d.get("aggregate") and d["status"] == "READ"
            ),
        )


def test_offline_recipient_gets_the_message_and_delivered_on_reconnect(
    chatters: Chatters,
) -> None:
    alice = chatters.open(chatters.alice)
    sent = alice.request("message", {"chatId": str(chatters.group), "body": "are you there?"})
    assert sent["message"]["status"] == "SENT"

    bob = chatters.open(chatters.bob)  # its first frame (ping) brings what queued

    assert bob.wait_for("message", lambda d: d["id"] == sent["message"]["id"])["body"] == (
        "are you there?"
    )
    alice.wait_for(
        "message:status",
        lambda d: (
            d["messageId"] == sent["message"]["id"]
            and d.get("aggregate")
            and d["status"] == "DELIVERED"
        ),
    )


def test_pin_forward_edit_and_delete_reach_the_other_member(chatters: Chatters) -> None:
    alice = chatters.open(chatters.alice)
    bob = chatters.open(chatters.bob)
    message = alice.request("message", {"chatId": str(chatters.group), "body": "draft"})["message"]
    bob.wait_for("message", lambda d: d["id"] == message["id"])

    assert alice.request("message:pin", {"messageId": message["id"]})["message"]["isPinned"]
    assert bob.wait_for("message:pinned", lambda d: d["id"] == message["id"])["pinnedBy"] == str(
        chatters.alice
    )

    forwarded = bob.request(
        "message:forward", {"messageId": message["id"], "toChatId": str(chatters.lobby)}
    )["message"]
    assert forwarded["isForwarded"] and forwarded["originalSenderId"] == str(chatters.alice)

    alice.request("message:edit", {"messageId": message["id"], "body": "final"})
    assert bob.wait_for("message:edited", lambda d: d["id"] == message["id"])["body"] == "final"

    alice.request("message:delete", {"messageId": message["id"]})
    deleted = bob.wait_for("message:deleted", lambda d: d["id"] == message["id"])
    assert deleted["body"] == "" and deleted["deletedAt"]


def test_typing_reaches_the_other_member(chatters: Chatters) -> None:
    alice = chatters.open(chatters.alice)
    bob = chatters.open(chatters.bob)

    alice.request("typing", {"chatId": str(chatters.group)})

    assert bob.wait_for("typing")["userId"] == str(chatters.alice)


def test_after_leaving_a_chat_sending_to_it_is_refused(chatters: Chatters) -> None:
    alice = chatters.open(chatters.alice)
    bob = chatters.open(chatters.bob)

    assert bob.request("chat:leave", {"chatId": str(chatters.group)})["status"] == "ok"
    assert alice.wait_for("chat:member")["event"] == "left"
    refused = bob.request("message", {"chatId": str(chatters.group), "body": "let me back"})

    assert refused["status"] == "error" and refused["code"] in {"forbidden", "not_found"}


def test_presence_goes_online_then_offline_with_last_seen_at(chatters: Chatters) -> None:
    alice = chatters.open(chatters.alice)
    bob = chatters.open(chatters.bob)
    online = alice.wait_for("users:update", lambda d: d["userId"] == str(chatters.bob))
    assert online["online"] is True

    bob.close()

    offline = alice.wait_for(
        "users:update", lambda d: d["userId"] == str(chatters.bob) and not d["online"]
    )
    assert offline["lastSeenAt"]
    listed = alice.request("users:list")["users"]
    assert [(u["username"], u["online"]) for u in listed] == [("bob", False)]


def test_a_killed_client_is_cleaned_up_and_the_others_still_get_messages(
    chatters: Chatters,
) -> None:
    from parley.stores import connections

    alice = chatters.open(chatters.alice)
    bob = chatters.open(chatters.bob)
    kept = connections.of_users([chatters.bob])[chatters.bob]
    doomed = chatters.open(chatters.bob)
    assert len(connections.of_users([chatters.bob])[chatters.bob]) == 2

    doomed.kill()
    sent = alice.request("message", {"chatId": str(chatters.group), "body": "still there?"})

    bob.wait_for("message", lambda d: d["id"] == sent["message"]["id"])
    # Whichever comes first cleans it up: the gateway's $disconnect or the 410 of a push.
    assert _eventually(lambda: connections.of_users([chatters.bob])[chatters.bob] == kept)


def test_a_connection_the_gateway_no_longer_knows_answers_410_and_is_removed(
    chatters: Chatters,
) -> None:
    """A registration that outlived its socket (a $disconnect that never ran)."""
    from parley.config import get_settings
    from parley.stores import connections

    alice = chatters.open(chatters.alice)
    bob = chatters.open(chatters.bob)
    long_ago = time.time() - get_settings().connection_confirm_seconds - 1
    stale = connections.Connection("U3RhbGVDb25uMTI=", chatters.bob, long_ago, "127.0.0.1")
    connections.add(stale)

    sent = alice.request("message", {"chatId": str(chatters.group), "body": "who is there?"})

    bob.wait_for("message", lambda d: d["id"] == sent["message"]["id"])
    assert connections.get(stale.connection_id) is None
    assert len(connections.of_users([chatters.bob])[chatters.bob]) == 1
