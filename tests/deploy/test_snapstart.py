"""SnapStart: an option of the template, and no connection survives a snapshot or a restore."""

from __future__ import annotations

import sys
import types

import pytest

from parley import snapstart


def test_snapstart_is_a_template_option_off_by_default(template):
    parameter = template["Parameters"]["SnapStart"]
    globals_ = template["Globals"]["Function"]

    assert parameter["Default"] == "Disabled"
    assert set(parameter["AllowedValues"]) == {"Enabled", "Disabled"}
    assert globals_["SnapStart"] == {
        "ApplyOn": {"Fn::If": ["SnapStartEnabled", "PublishedVersions", "None"]}
    }
    # SnapStart serves published versions only: every function is published.
    assert globals_["AutoPublishAlias"] == "live"
    assert template["Conditions"]["SnapStartEnabled"] == {
        "Fn::Equals": [{"Ref": "SnapStart"}, "Enabled"]
    }


def test_the_runtime_hooks_drop_connections_before_the_snapshot_and_after_restore(monkeypatch):
    registered: dict[str, object] = {}
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = lambda hook: registered.setdefault("before", hook)
    runtime.register_after_restore = lambda hook: registered.setdefault("after", hook)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)

    assert snapstart.register_runtime_hooks()
    assert registered == {
        "before": snapstart.drop_connections,
        "after": snapstart.drop_connections,
    }


def test_without_the_lambda_runtime_there_is_nothing_to_register(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)

    assert not snapstart.register_runtime_hooks()


def test_dropping_connections_closes_the_database_pool_redis_and_the_producer():
    from parley.db import session
    from parley.events import kafka
    from parley.stores import client

    session.get_engine()
    client.get_redis()
    kafka.get_producer()

    snapstart.drop_connections()

    assert (session._engine, client._client, kafka._producer) == (None, None, None)
    # The next use opens anew.
    assert session.get_engine() is not None


def test_one_failing_reset_does_not_keep_the_others_open(monkeypatch):
    from parley.stores import client

    def broken() -> None:
        raise RuntimeError("stale")

    monkeypatch.setattr(snapstart, "_resets", [broken, *snapstart._resets])
    client.get_redis()

    snapstart.drop_connections()

    assert client._client is None


@pytest.fixture(autouse=True)
def _fresh_clients():
    yield
    snapstart.drop_connections()
