"""The whole-run log scan (tests/fixtures/logscan.py) finds what it is meant to find."""

from __future__ import annotations

import logging

from tests.fixtures.logscan import COLLECTOR


def test_a_secret_learnt_from_traffic_is_found_in_a_log_line(rp):
    tokens = rp.token(grant_type="password", username="admin@example.com", password="password",
                      scope="openid offline_access").json()
    assert tokens["refresh_token"].rstrip("=") in COLLECTOR.secrets
    mark = len(COLLECTOR.lines)
    logging.getLogger("tests.security.leaky").warning("refreshing with %s", tokens["refresh_token"])
    try:
        assert [secret for _, secret in COLLECTOR.leaks(since=mark)] == [tokens["refresh_token"].rstrip("=")]
    finally:
        del COLLECTOR.lines[mark:]  # the planted line must not fail the run


def test_plain_words_are_not_searched_for():
    COLLECTOR.learn([("password", "password"), ("password", "Sup3r-s3cret!"), ("token", "refresh_token")])
    assert "password" not in COLLECTOR.secrets and "refresh_token" not in COLLECTOR.secrets
    assert "Sup3r-s3cret!" in COLLECTOR.secrets
