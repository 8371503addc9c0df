"""The benchmark's plumbing, on dexpy alone and for about a second per scenario, so that the bench cannot rot:
the server starts with its workers, tokens come from a real login, wrk's report is read, the table prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run, servers, wrk
from bench.run import Settings
from bench.wrk import Result

SCENARIOS = ("token refresh_token", "login (auth code+PKCE)")


def test_quick_bench_measures_dexpy(tmp_path: Path) -> None:
    with servers.dexpy(tmp_path) as server:
        [measured] = run.measure([(server, SCENARIOS)], Settings(seconds=1, repetitions=1, login_seconds=0.5))
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


def test_the_servers_take_each_repetition_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ratio compares runs taken alternately, so that a drifting machine moves both of its sides alike."""
    def server(name: str, pid: int) -> servers.Server:
        return servers.Server(name, f"http://{name}", pid, "c", "s", "u", "p", startup_s=0.5)

    taken: list[tuple[str, str, bool]] = []

    def run_once(side: servers.Server, plan: object, name: str, settings: Settings, warm_up: bool = False) -> Result:
        taken.append((side.name, name, warm_up))
        return Result(rps=100.0 * side.pid, p99_ms=5.0, error_ratio=0.0, answers=10)

    monkeypatch.setattr(run, "_run_once", run_once)
    monkeypatch.setattr(run, "requests", lambda side: dict.fromkeys(run.SCENARIOS, wrk.Request(side.issuer)))
    monkeypatch.setattr(servers, "cpu_seconds", lambda pid: float(len(taken)))
    monkeypatch.setattr(servers, "rss_mb", lambda pid: [50.0])
    sides = [(server("dexpy", 1), SCENARIOS), (server("peer", 2), SCENARIOS), (server("kube", 3), SCENARIOS[:1])]
    dexpy, peer, kube = run.measure(sides, Settings(seconds=1, repetitions=2, login_seconds=1))
    assert taken == [
        ("dexpy", "token refresh_token", False), ("peer", "token refresh_token", False),
        ("kube", "token refresh_token", False),
        ("dexpy", "token refresh_token", False), ("peer", "token refresh_token", False),
        ("kube", "token refresh_token", False),
        ("dexpy", "login (auth code+PKCE)", True), ("peer", "login (auth code+PKCE)", True),
        ("dexpy", "login (auth code+PKCE)", False), ("peer", "login (auth code+PKCE)", False),
        ("dexpy", "login (auth code+PKCE)", False), ("peer", "login (auth code+PKCE)", False),
    ]
    refresh = [m.results["token refresh_token"] for m in (dexpy, peer, kube)]
    assert [r.rps for r in refresh if r is not None] == [100, 200, 300]
    assert dexpy.results["login (auth code+PKCE)"].answers == 20  # type: ignore[union-attr]  # the warm-up: no rate
    assert dexpy.cpu_us["login (auth code+PKCE)"] == pytest.approx(3 / 30 * 1e6)  # 1 s of CPU a run, warm-up too
    assert set(kube.results) == {"token refresh_token"}


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
