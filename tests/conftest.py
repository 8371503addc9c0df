"""Shared fixtures: the headless browser lives in tests/fixtures/browser.py and is loaded for every test dir."""

pytest_plugins = ["tests.fixtures.browser"]
