"""Pure helpers for the ClusterVersion status: conditions and the capped history."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

HISTORY_LIMIT = 20
ROLLING_BACK, HALTED, DONE = "RollingBack", "Halted", "Done"  # values of `progress.phase`
CONDITION_TYPES = ("Available", "Progressing", "Failing", "Upgradeable", "RetrievedUpdates", "Paused")


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> datetime | None:
    """A time `stamp` wrote, or None."""
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def micro_time(moment: datetime) -> str:
    """MicroTime: RFC 3339 with exactly six fractional digits; the apiserver refuses any other precision."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def set_condition(
    conditions: list[dict[str, Any]], kind: str, status: bool, reason: str, message: str, now: datetime
) -> list[dict[str, Any]]:
    """Replace the condition of that type; `lastTransitionTime` moves only when the status flips."""
    value = "True" if status else "False"
    old = next((c for c in conditions if c.get("type") == kind), None)
    changed = old is None or old.get("status") != value
    condition = {
        "type": kind,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": stamp(now) if changed else old["lastTransitionTime"],  # type: ignore[index]
    }
    rest = [c for c in conditions if c.get("type") != kind]
    return sorted([*rest, condition], key=lambda c: CONDITION_TYPES.index(c["type"]))


def condition_is(conditions: list[dict[str, Any]], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def start_attempt(history: list[dict[str, Any]], version: str, source: str, now: datetime) -> list[dict[str, Any]]:
    """Newest first; an unfinished attempt that a new one replaces is marked Abandoned."""
    older = [{**h, "state": "Abandoned"} if h.get("state") == "Partial" else h for h in history]
    entry = {"version": version, "from": source, "state": "Partial", "startedTime": stamp(now), "completionTime": None}
    return [entry, *older][:HISTORY_LIMIT]


def finish_attempt(history: list[dict[str, Any]], state: str, now: datetime) -> list[dict[str, Any]]:
    if not history:
        return history
    return [{**history[0], "state": state, "completionTime": stamp(now)}, *history[1:]]


def rollback_source(history: list[dict[str, Any]], current: str) -> str | None:
    """The version the cluster was on before the last completed update, if that update brought it to `current`.

    Only Completed entries count: a Partial, Abandoned or RolledBack attempt never moved the cluster, and an
    attempt from a version to itself (putting a halted update back) changed no version.
    """
    last = next((h for h in history if h.get("state") == "Completed" and h.get("from") != h.get("version")), None)
    return str(last["from"]) if last is not None and last.get("version") == current else None
