"""`parley-dev replay CONSUMER --from earliest`: rebuild a consumer's tables from Kafka."""

from __future__ import annotations

import argparse


def cmd_replay(args: argparse.Namespace) -> int:
    from parley.events.replay import replay

    def progress(result) -> None:
        print(f"  - {result.records} records, {result.processed} applied", flush=True)

    print(f"Replaying {args.consumer} from the {args.start} offsets", flush=True)
    result = replay(args.consumer, on_batch=progress)
    print(
        f"done: {result.records} records in {result.batches} batches, "
        f"{result.processed} applied, {result.dead_lettered} dead-lettered",
        flush=True,
    )
    return 0 if result.dead_lettered == 0 else 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from parley.events.replay import REPLAYABLE

    replay = subparsers.add_parser(
        "replay", help="empty a consumer's tables and rebuild them from its topics"
    )
    replay.add_argument("consumer", choices=sorted(REPLAYABLE))
    replay.add_argument(
        "--from",
        dest="start",
        choices=["earliest"],
        default="earliest",
        help="where to start reading (the topics' retention bounds what comes back)",
    )
    replay.set_defaults(run=cmd_replay)
