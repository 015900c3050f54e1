"""Schedules: `rate(...)` and `cron(...)` as EventBridge reads them, in UTC."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from .events import scheduled_event
from .options import GatewayOptions
from .runtime import Runner, access_log
from .template import Schedule, Wiring

logger = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


def rate_seconds(expression: str) -> float | None:
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """One cron field as the set of values it allows; None for `*` and `?`."""
    if text in {"*", "?"}:
        return None
    values: set[int] = set()
    for part in text.split(","):
        part_range, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1

        def number(token: str) -> int:
            token = token.upper()
            if names and token in names:
                return names[token]
            if not token.isdigit():
                raise ValueError(f"unsupported cron token {token!r} (L, W and # are not)")
            return int(token)

        if part_range == "*":
            start, end = low, high
        elif "-" in part_range:
            first, last = part_range.split("-", 1)
            start, end = number(first), number(last)
        else:
            start = number(part_range)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return values


class Cron:
    """AWS's six fields: minutes hours day-of-month month day-of-week year."""

    def __init__(self, expression: str) -> None:
        fields = expression.split()
        if len(fields) != 6:
            raise ValueError(f"cron needs 6 fields, got {len(fields)}: {expression!r}")
        self.minutes = _field(fields[0], 0, 59)
        self.hours = _field(fields[1], 0, 23)
        self.days = _field(fields[2], 1, 31)
        self.months = _field(fields[3], 1, 12, _MONTHS)
        self.weekdays = _field(fields[4], 1, 7, _DAYS)
        self.years = _field(fields[5], 1970, 2199)

    @staticmethod
    def _allows(values: set[int] | None, value: int) -> bool:
        return values is None or value in values

    def _day_matches(self, day: datetime) -> bool:
        aws_weekday = (day.weekday() + 1) % 7 + 1  # SUN=1 ... SAT=7
        return (
            self._allows(self.years, day.year)
            and self._allows(self.months, day.month)
            and self._allows(self.days, day.day)
            and self._allows(self.weekdays, aws_weekday)
        )

    def next_after(self, moment: datetime) -> datetime | None:
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(366 * 10):  # ten years ahead, then give up
            if self._day_matches(day):
                for hour in sorted(self.hours or range(24)):
                    for minute in sorted(self.minutes or range(60)):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        return None


def parse_cron(expression: str) -> Cron | None:
    match = re.match(r"^cron\((.*)\)$", expression.strip())
    return Cron(match.group(1)) if match else None


class ScheduleRunner:
    def __init__(self, wiring: Wiring, runner: Runner, options: GatewayOptions) -> None:
        self.schedules = [s for s in wiring.schedules if s.enabled]
        self.runner = runner
        self.options = options
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for schedule in self.schedules:
            try:
                next_fire = self._planner(schedule)
            except ValueError as exc:
                logger.warning("schedule %s ignored: %s", schedule.name, exc)
                continue
            self._tasks.append(asyncio.create_task(self._run(schedule, next_fire)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _planner(self, schedule: Schedule) -> Any:
        """A function from the last fire time (epoch seconds) to the next one."""
        period = rate_seconds(schedule.expression)
        if period is not None:
            period = self.options.schedule_rate_override_seconds or period
            return lambda last: last + period
        cron = parse_cron(schedule.expression)
        if cron is None:
            raise ValueError(f"unknown expression {schedule.expression!r}")

        def next_cron(last: float) -> float:
            found = cron.next_after(datetime.fromtimestamp(last, UTC))
            return float("inf") if found is None else found.timestamp()

        return next_cron

    async def _run(self, schedule: Schedule, next_fire: Any) -> None:
        due = next_fire(time.time())
        rule = schedule.name.replace(".", "-")
        while due != float("inf"):
            await asyncio.sleep(max(0.0, due - time.time()))
            event = json.loads(schedule.input) if schedule.input else scheduled_event(rule)
            with access_log(
                route=f"schedule {schedule.expression}", function=schedule.function
            ) as log:
                try:
                    await self.runner.invoke(schedule.function, event)
                    log["status"] = "ok"
                except Exception:
                    logger.exception("scheduled %s failed", schedule.function)
                    log["status"] = "error"
            # The next tick after now: a run longer than the period skips ticks.
            due = next_fire(max(due, time.time()))
