"""The benchmark's plumbing, on dexpy alone and for about a second per scenario, so that the bench cannot rot:
the server starts with its workers, tokens come from a real login, wrk's report is read, the table prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run, servers
from bench.run import Settings

SCENARIOS = ("token refresh_token", "login (auth code+PKCE)")


def test_quick_bench_measures_dexpy(tmp_path: Path) -> None:
    with servers.dexpy(tmp_path) as server:
        measured = run.measure(server, Settings(seconds=1, repetitions=1, login_seconds=0.5), SCENARIOS)
    assert set(measured.results) == set(SCENARIOS)
    for name, result in measured.results.items():
        assert result is not None and result.rps > 0, name
        assert result.error_ratio == 0, f"{name}: {result.error_ratio:.1%} of the answers were errors"
        assert result.p99_ms > 0, name
        assert result.answers > 0 and 10 < measured.cpu_us[name] < 1_000_000, name
    assert len(measured.rss_mb) == servers.DEXPY_WORKERS and all(20 < mb < 1000 for mb in measured.rss_mb)
    text = run.report(measured, None, None, {"RS256": 3500.0, "ES256": 40000.0}, None, servers.DEXPY_WORKERS)
    refresh_row = next(line for line in text.splitlines() if line.startswith("token refresh_token"))
    assert f"{measured.results['token refresh_token'].rps:.0f}" in refresh_row  # type: ignore[union-attr]
    assert f"{measured.cpu_us['token refresh_token']:.0f}" in refresh_row
    assert "n/a   token refresh >= peer" in text


def bench_command(*argv: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("http", [False, True], ids=["connector", "http"])
def test_ldap_login_bench_prints_a_row_per_thread_count(http: bool) -> None:
    lines = bench_command("bench.ldap_login", "-n", "20", "--threads", "1", "2", "--groups", *["--http"] * http)
    assert lines[0] == "ldap, groups=True, 20 logins per row" + (", password grants over HTTP" if http else "")
    rows = [line.split() for line in lines[2:]]
    assert [row[0] for row in rows] == ["1", "2"]
    for _, median, p99, rate in rows:
        assert 0 < float(median) <= float(p99) and float(rate) > 0


def test_password_guessing_bench_shows_the_lockout_cutting_checked_guesses() -> None:
    off, on = bench_command("bench.password_guessing", "--seconds", "1.5")
    pattern = re.compile(r"= ([\d.]+) checked guesses per minute")
    rate = [float(pattern.search(line)[1]) for line in (off, on)]  # type: ignore[index]
    assert off.startswith("lockout off") and on.startswith("lockout on") and rate[1] < rate[0]
