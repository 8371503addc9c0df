from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from dexpy.upgrade.status import HISTORY_LIMIT, rollback_source, start_attempt

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def entry(version: str, source: str, state: str) -> dict[str, Any]:
    return {"version": version, "from": source, "state": state}


@pytest.mark.parametrize(
    ("history", "source"),
    [
        ([entry("1.31.0", "1.30.2", "Completed")], "1.30.2"),
        ([entry("1.31.1", "1.31.0", "Partial"), entry("1.31.0", "1.30.2", "Completed")], "1.30.2"),
        ([entry("1.31.0", "1.30.9", "Failed"), entry("1.31.0", "1.30.2", "Completed")], "1.30.2"),
        ([entry("1.31.0", "1.31.0", "Completed"), entry("1.31.0", "1.30.2", "Completed")], "1.30.2"),
        ([entry("1.31.0", "1.30.2", "RolledBack"), entry("1.30.2", "1.30.1", "Completed")], None),
        ([entry("1.31.0", "1.30.2", "Partial")], None),
        ([], None),
    ],
)
def test_rollback_source_is_where_the_last_completed_update_came_from(
    history: list[dict[str, Any]], source: str | None
) -> None:
    assert rollback_source(history, "1.31.0") == source


def test_history_keeps_the_newest_entries_up_to_the_limit() -> None:
    history = [entry(f"1.30.{n}", f"1.30.{n - 1}", "Completed") for n in range(HISTORY_LIMIT, 0, -1)]
    history[0]["state"] = "Partial"
    grown = start_attempt(history, "1.31.0", "1.30.20", NOW)
    assert len(grown) == HISTORY_LIMIT == 20
    assert [h["version"] for h in grown[:2]] == ["1.31.0", "1.30.20"] and grown[-1]["version"] == "1.30.2"
    assert grown[0]["state"] == "Partial" and grown[1]["state"] == "Abandoned"
