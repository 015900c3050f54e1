"""require_member: the one membership check every chat action goes through."""

from __future__ import annotations

import uuid

import pytest

from parley.chat.membership import require_member
from parley.db import session_scope
from parley.db.models import Chat, ChatMember, ChatType, MemberRole, User
from parley.protocol.errors import NotFound


@pytest.fixture
def chat_with_member() -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    member_id, outsider_id, chat_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with session_scope() as session:
        session.add_all(
            [
                User(id=member_id, username="member", password_hash="x"),
                User(id=outsider_id, username="outsider", password_hash="x"),
            ]
        )
        session.flush()
        session.add(Chat(id=chat_id, type=ChatType.GROUP.value, title="t", created_by=member_id))
        session.flush()
        session.add(ChatMember(chat_id=chat_id, user_id=member_id, role=MemberRole.ADMIN.value))
    return chat_id, member_id, outsider_id


def test_a_member_gets_their_membership_row(chat_with_member) -> None:
    chat_id, member_id, _ = chat_with_member

    with session_scope() as session:
        member = require_member(session, chat_id, member_id)

        assert member.role == MemberRole.ADMIN.value


def test_a_non_member_is_told_the_chat_does_not_exist(chat_with_member) -> None:
    chat_id, _, outsider_id = chat_with_member

    with session_scope() as session, pytest.raises(NotFound):
        require_member(session, chat_id, outsider_id)


def test_an_unknown_chat_is_not_found(chat_with_member) -> None:
    _, member_id, _ = chat_with_member

    with session_scope() as session, pytest.raises(NotFound):
        require_member(session, uuid.uuid4(), member_id)
