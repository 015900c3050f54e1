"""The catalog is the single source: docs/events.md and template.yaml mirror it."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.events import catalog, docs
from parley_dev.gateway.template import load_wiring

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def consumer_topics() -> dict[str, set[str]]:
    """Topics each consumer directory reads, as the gateway (and AWS) wire them."""
    wiring = load_wiring(ROOT / "template.yaml")
    wired: dict[str, set[str]] = {}
    for mapping in wiring.kafka_mappings:
        code = wiring.functions[mapping.function].code_dir.name
        wired.setdefault(code, set()).update(mapping.topics)
    return wired


def test_docs_events_md_is_generated_from_the_catalog() -> None:
    assert (ROOT / "docs" / "events.md").read_text() == docs.render()


def test_docs_list_every_topic() -> None:
    rendered = docs.render()
    assert all(f"`{topic.name}`" in rendered for topic in catalog.TOPICS)


def test_template_consumers_read_catalog_topics_as_their_handlers_expect() -> None:
    from parley.events.consumers import analytics, audit, notifications

    wired = consumer_topics()
    assert wired["analytics"] == set(analytics.CONSUMER.topics)
    assert wired["audit"] == set(catalog.DOMAIN_TOPICS) == set(audit.CONSUMER.topics)
    assert wired["notifications"] == set(notifications.CONSUMER.topics)
