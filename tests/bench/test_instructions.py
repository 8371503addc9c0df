"""bench.instructions: callgrind's dumps are read right, and a real count on dexpy puts the signatures apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import instructions
from bench.instructions import Dump

DUMP = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 9000

ob=(1) /lib/libcrypto.so
fl=(1) ???
fn=(1) jws_sign
0 100
cfn=(2) EVP_PKEY_sign
calls=1 0
0 1200
cfn=(3) EVP_PKEY_sign_init
calls=1 0
0 30

fn=(4) refresh_grant
+2 50
cfn=(2)
calls=2 0
* 2400

fn=(2)
0 3600

totals: 9000
"""


def test_a_dump_counts_everything_and_the_calls_into_the_signing_function(tmp_path: Path) -> None:
    path = tmp_path / "callgrind.out.1"
    path.write_text(DUMP)
    assert Dump.read(path) == Dump(total=9000, signing=1200 + 2400)


def test_counts_on_dexpy_put_the_signatures_apart() -> None:
    counted = instructions.count(["refresh", "client_credentials", "discovery"], answers=5)
    refresh, client_credentials, discovery = counted["refresh"], counted["client_credentials"], counted["discovery"]
    # a refresh answer signs an access token and an ID token, a client_credentials answer an access token only
    assert 1.9 < refresh.signing / client_credentials.signing < 2.1
    assert discovery.signing == 0
    # discovery is served from precomputed bytes; a refresh reads storage and builds two tokens
    assert 100_000 < discovery.instructions < refresh.instructions / 2
    assert refresh.instructions < 20_000_000
    table = instructions.report(counted, 5).splitlines()
    refresh_row = next(line for line in table if line.startswith("token refresh"))
    assert f"{refresh.instructions:,.0f}" in refresh_row and f"{refresh.signing:,.0f}" in refresh_row


def test_unknown_scenarios_are_named(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["bench.instructions", "refresh", "logout"])
    with pytest.raises(SystemExit) as exited:
        instructions.main()
    assert exited.value.code == 2
    assert "unknown scenario logout" in capsys.readouterr().err
