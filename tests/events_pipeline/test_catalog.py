"""The catalog is the single source: docs/events.md and template.yaml mirror it."""

from __future__ import annotations

from pathlib import Path

import yaml

from parley.events import catalog, docs

ROOT = Path(__file__).resolve().parents[2]


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub...) as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, _tag, node: None)


def consumer_topics() -> dict[str, set[str]]:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_TemplateLoader)
    wired = {}
    for resource in template["Resources"].values():
        for source in (resource.get("Properties", {}).get("Events") or {}).values():
            if source.get("Type") in ("SelfManagedKafka", "MSK"):
                code = resource["Properties"]["CodeUri"].strip("/").split("/")[-1]
                wired[code] = set(source["Properties"]["Topics"])
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
