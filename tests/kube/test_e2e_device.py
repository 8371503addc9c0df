"""`dexpy login --device` against the real dexpy app on loopback. The client's `sleep` moves the clock it shares
with the server; while the device waits, the test plays the person who types the user code into a browser."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from dexpy.clock import FrozenClock
from dexpy.config import Config, load_config
from dexpy.kube.cache import TokenCache
from dexpy.kube.login import IDToken, LoginOptions, Seams, get_id_token
from dexpy.kube.provider import DeviceAuthorization
from tests.fixtures.dexpy_server import serve_config, write_config
from tests.fixtures.rp import RelyingParty


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(str(write_config(tmp_path)))


class Device:
    """The seams of a headless device: it shows the code, and sleeps as the client asks (or wakes early)."""

    def __init__(self, config: Config, clock: FrozenClock, woken_early_by: float = 0) -> None:
        self.config = config
        self.clock = clock
        self.shown: list[DeviceAuthorization] = []
        self.sleeps: list[float] = []
        self.woken_early_by = woken_early_by

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        early = self.woken_early_by if len(self.sleeps) == 1 else 0
        self.clock.advance(timedelta(seconds=seconds - early))
        if len(self.sleeps) == 2:  # the person gets to a browser while the device waits
            page = RelyingParty(self.config.issuer).enter_device_code(self.shown[0].user_code)
            assert page.status_code == 200 and "Device connected" in page.text, page.text

    def login(self, tmp_path: Path, open_browser: Callable[[str], bool]) -> IDToken:
        options = LoginOptions(issuer=self.config.issuer, client_id="kubectl", cache_dir=tmp_path / "cache",
                               device=True)
        return get_id_token(options, Seams(open_browser=open_browser, show_device_code=self.shown.append,
                                           sleep=self.sleep, clock=self.clock))


def no_browser(url: str) -> bool:
    raise AssertionError("the device flow must not open a browser")


def test_device_login_polls_until_the_person_has_signed_in(config: Config, tmp_path: Path) -> None:
    clock = FrozenClock()
    device = Device(config, clock)
    with serve_config(config, clock=clock):
        token = device.login(tmp_path, no_browser)
    shown = device.shown[0]
    assert shown.verification_uri == f"{config.issuer}/device" and shown.interval == 5
    assert device.sleeps == [5, 5]  # pending once, then the tokens
    assert token.expiry == clock() + config.expiry.id_tokens
    cached = TokenCache(tmp_path / "cache").load(config.issuer, "kubectl")
    assert cached is not None and cached.id_token == token.token and cached.refresh_token


def test_device_that_polls_too_soon_is_slowed_down(config: Config, tmp_path: Path) -> None:
    clock = FrozenClock()
    device = Device(config, clock, woken_early_by=2)
    with serve_config(config, clock=clock):
        token = device.login(tmp_path, no_browser)
    assert device.sleeps == [5, 10]  # slow_down after the early poll: the client waits 5 s longer
    assert token.expiry == clock() + config.expiry.id_tokens
