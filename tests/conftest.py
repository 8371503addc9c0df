"""Shared fixtures: the headless browser (tests/fixtures/browser.py) and the whole-run scan of log records for
secrets (tests/fixtures/logscan.py) are loaded for every test dir."""

from datetime import datetime, timezone

import pytest

from dexpy.clock import FrozenClock

pytest_plugins = ["tests.fixtures.browser", "tests.fixtures.logscan"]  # logscan: no secret in any log line


@pytest.fixture
def clock() -> FrozenClock:
    """A clock for the server that tests move by hand. It starts at real time: relying parties check `exp`
    against the real clock."""
    return FrozenClock(datetime.now(timezone.utc))
