"""Shared fixtures: the headless browser (tests/fixtures/browser.py) and the whole-run scan of log records for
secrets (tests/fixtures/logscan.py) are loaded for every test dir."""

pytest_plugins = ["tests.fixtures.browser", "tests.fixtures.logscan"]  # logscan: no secret in any log line
