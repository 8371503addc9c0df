"""How many password guesses an attacker gets checked per minute, without and with the lockout.

    .venv/bin/python -m bench.password_guessing [--seconds 10] [--speedup 60]

A real dexpy on loopback (the test fixture's config, bcrypt cost 10), one attacker thread sending wrong
passwords for one user through the password grant as fast as answers come. A guess "counts" when dexpy really
checked it: without lockout every answer; with it, the failures the user's counter recorded (guesses sent while
locked are thrown away). With the lockout, dexpy's clock runs `speedup` times faster than real time so that
`seconds` of attack cover `seconds × speedup / 60` minutes of lockout policy.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from dexpy.model import FailureCounter
from dexpy.security.lockout import user_target
from dexpy.security.usernames import user_ref
from tests.fixtures.dexpy_server import CLIENT_SECRET, run_dexpy

YAML = "oauth2:\n  passwordConnector: local\nsecurity:\n  rateLimit:\n    enabled: false\n  lockout:\n    enabled: {on}\n"


class ScaledClock:
    def __init__(self, speedup: float) -> None:
        self.start, self.t0, self.speedup = datetime.now(timezone.utc), time.monotonic(), speedup

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.t0) * self.speedup)


def attack(lockout: bool, seconds: float, speedup: float) -> tuple[int, int, float]:
    """(guesses sent, guesses checked, simulated minutes)."""
    clock = ScaledClock(speedup if lockout else 1.0)
    with tempfile.TemporaryDirectory() as tmp, \
            run_dexpy(Path(tmp), YAML.format(on=str(lockout).lower()), clock=clock) as server, \
            httpx.Client(timeout=10) as http:
        sent, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            http.post(f"{server.issuer}/token", auth=("example-app", CLIENT_SECRET),
                      data={"grant_type": "password", "username": "admin@example.com",
                            "password": f"guess-{sent}", "scope": "openid"})
            sent += 1
        minutes = seconds * clock.speedup / 60
        if not lockout:
            return sent, sent, minutes
        counter = server.runtime.storage.get(FailureCounter, user_target("local", user_ref("admin@example.com")).key)
        return sent, counter.failures, minutes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--speedup", type=float, default=60.0)
    args = parser.parse_args()
    for lockout in (False, True):
        sent, checked, minutes = attack(lockout, args.seconds, args.speedup)
        print(f"lockout {'on ' if lockout else 'off'}: {sent} guesses sent, {checked} checked over "
              f"{minutes:.1f} min (dexpy's clock) = {checked / minutes:.1f} checked guesses per minute")


if __name__ == "__main__":
    main()
