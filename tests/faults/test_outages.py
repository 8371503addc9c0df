"""The directory (real slapd) and the Kubernetes API (the fake) stopped and restarted under load: dexpy answers
503 with a message while they are down, its health checks say so, it recovers without a restart, and nothing
is left half-stored."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from dexpy.clock import FrozenClock
from dexpy.config import StorageConfig, load_config
from dexpy.model import FailureCounter, OfflineSessions, RefreshToken
from dexpy.logs import AUDIT_LOGGER
from dexpy.runtime import build_storage
from dexpy.security.usernames import user_ref
from dexpy.storage.gc import ORPHAN_GRACE, GarbageCollector
from dexpy.storage.kubernetes.crds import CRD_DIR
from dexpy.telemetry.listener import telemetry_app
from tests.connectors.conftest import dex_example_config
from tests.fixtures.dexpy_server import CLIENT_SECRET, DexpyServer, free_port, run_dexpy, serve_config, write_config
from tests.fixtures.kubeapi.fixture import KubeAPIFixture, kube_api  # noqa: F401
from tests.fixtures.rp import RelyingParty
from tests.fixtures.slapd import Slapd, running_slapd
from tests.ops.conftest import serve_asgi
from tests.security.conftest import NO_RATE_LIMIT, submit_password


class Load:
    """Password grants in a loop from two threads; every answer is kept."""

    def __init__(self, issuer: str, username: str, password: str) -> None:
        self.issuer = issuer
        self.form = {"grant_type": "password", "username": username, "password": password,
                     "scope": "openid offline_access"}
        self.answers: list[tuple[float, int, str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                response = http.post(f"{self.issuer}/token", data=self.form, auth=("example-app", CLIENT_SECRET))
                self.answers.append((time.monotonic(), response.status_code, response.text))
                time.sleep(0.01)

    def wait_for(self, status: int, timeout: float = 15) -> None:
        since = time.monotonic()
        deadline = since + timeout
        while time.monotonic() < deadline:
            if any(t > since and s == status for t, s, _ in self.answers):
                return
            time.sleep(0.02)
        raise AssertionError(f"no {status} within {timeout}s: {Counter(s for _, s, _ in self.answers)}")

    @contextmanager
    def running(self) -> Iterator[Load]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(timeout=15)

    @property
    def statuses(self) -> Counter[int]:
        return Counter(s for _, s, _ in self.answers)

    def bodies(self, status: int) -> list[dict[str, str]]:
        return [json.loads(text) for _, s, text in self.answers if s == status]


@pytest.fixture
def readiness() -> Iterator[Callable[[DexpyServer], Callable[[], httpx.Response]]]:
    """Serves a dexpy's telemetry listener; gives the call that reads its /healthz/ready."""
    listeners = []

    def serve(server: DexpyServer) -> Callable[[], httpx.Response]:
        port = free_port()
        listeners.append(serve_asgi(telemetry_app(server.runtime.provider), port))
        return lambda: httpx.get(f"http://127.0.0.1:{port}/healthz/ready", timeout=10)

    yield serve
    for listener in listeners:
        listener.should_exit = True


def assert_nothing_half_stored(server: DexpyServer, load: Load, linked_unanswered: int = 0) -> None:
    """No link points at a missing token, and once the garbage collector has deleted the tokens of logins the
    outage cut between their two writes, every token left is linked and was given to a client, except those
    whose link reached the store while its answer was lost (`linked_unanswered`): a client that lost a 200 holds
    no token either."""
    storage = server.runtime.storage
    GarbageCollector(storage, FrozenClock(datetime.now(timezone.utc) + ORPHAN_GRACE * 2)).sweep_once()
    given = {b["refresh_token"] for b in load.bodies(200)}
    tokens = storage.list(RefreshToken)
    assert len(tokens) <= len(given) + linked_unanswered  # (a later login may drop an old one past the cap)
    linked = {ref_id for s in storage.list(OfflineSessions) for ref_id in s.all_refs()}
    assert linked == {t.id for t in tokens}
    assert storage.list(FailureCounter) == []  # an outage is nobody's failed login


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    with running_slapd(tmp_path / "slapd") as server:
        yield server


def test_ldap_outage_under_load(slapd: Slapd, tmp_path: Path, readiness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    unavailable_before = REGISTRY.get_sample_value("dexpy_logins_total", {"connector": "ldap", "result": "unavailable"})
    connector = {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": dex_example_config(slapd)}
    extra = NO_RATE_LIMIT + f"oauth2:\n  passwordConnector: ldap\nconnectors: [{json.dumps(connector)}]\n"
    (tmp_path / "dexpy").mkdir()
    with run_dexpy(tmp_path / "dexpy", extra) as server:
        ready = readiness(server)
        load = Load(server.issuer, "janedoe@example.com", "foo")
        with load.running():
            load.wait_for(200)
            slapd.stop()
            load.wait_for(503)
            degraded = ready()
            assert degraded.status_code == 200 and degraded.json()["status"] == "degraded"
            assert degraded.json()["checks"]["connector:ldap"]["ok"] is False
            page = submit_password(RelyingParty(server.issuer), "janedoe@example.com", "foo", connector_id="ldap")
            assert page.status_code == 503 and "directory is unavailable" in page.text
            slapd.start()
            load.wait_for(200)
            assert ready().json()["status"] == "ok"
        assert set(load.statuses) <= {200, 503}, load.statuses
        assert {b["error"] for b in load.bodies(503)} == {"temporarily_unavailable"}
        assert_nothing_half_stored(server, load)
    cut = [r for r in caplog.records if r.name == AUDIT_LOGGER and getattr(r, "result", "") == "unavailable"]
    assert cut and {(r.connector_id, r.user_ref) for r in cut} == {("ldap", user_ref("janedoe@example.com"))}
    counted = REGISTRY.get_sample_value("dexpy_logins_total", {"connector": "ldap", "result": "unavailable"})
    assert counted - (unavailable_before or 0) == len(cut)  # every login the outage cut is counted and audited


HUNG_DIRECTORY = {"timeout": "3s", "connectTimeout": "3s"}


def _while_the_directory_hangs(slapd: Slapd, ldap_login: Callable[[], int],
                               other: Callable[[], httpx.Response]) -> tuple[httpx.Response, float, list[float]]:
    """Freeze slapd, start four `ldap_login`s (each returns its status, which must be 503), then run `other`:
    its answer, when it came, and when each login ended."""
    slapd.pause()
    try:
        ended: list[tuple[float, int]] = []

        def login() -> None:
            status = ldap_login()
            ended.append((time.monotonic(), status))

        waiting = [threading.Thread(target=login) for _ in range(4)]
        for thread in waiting:
            thread.start()
        time.sleep(0.5)  # all four are waiting on the directory now
        answer = other()
        answered_at = time.monotonic()
        for thread in waiting:
            thread.join(timeout=30)
    finally:
        slapd.resume()
    assert len(ended) == 4 and {status for _, status in ended} == {503}
    return answer, answered_at, [at for at, _ in ended]


def test_a_hung_directory_holds_up_only_the_logins_that_need_it(slapd: Slapd, tmp_path: Path) -> None:
    """LDAP password grants waiting on a frozen slapd wait off the event loop: other token requests go on."""
    connector = {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": {**dex_example_config(slapd),
                                                                              **HUNG_DIRECTORY}}
    extra = NO_RATE_LIMIT + f"oauth2:\n  passwordConnector: ldap\nconnectors: [{json.dumps(connector)}]\n"
    with run_dexpy(tmp_path, extra) as server:
        rp = RelyingParty(server.issuer)
        assert rp.token(grant_type="password", username="janedoe@example.com", password="foo",
                        scope="openid").status_code == 200  # the pool holds open connections now
        other, answered_at, ended = _while_the_directory_hangs(
            slapd, lambda: RelyingParty(server.issuer).token(grant_type="password", username="janedoe@example.com",
                                                             password="foo", scope="openid").status_code,
            lambda: rp.token(grant_type="refresh_token", refresh_token="not-a-token"))
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    assert answered_at < min(ended), "a token request waited behind the directory"


def test_a_hung_directory_holds_up_only_the_browser_logins_that_need_it(slapd: Slapd, tmp_path: Path) -> None:
    """The login pages run on the event loop as protocol work: password forms posted while slapd is frozen wait
    off the loop, and the next browser's login page is served meanwhile."""
    connector = {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": {**dex_example_config(slapd),
                                                                              **HUNG_DIRECTORY}}
    with run_dexpy(tmp_path, NO_RATE_LIMIT + f"connectors: [{json.dumps(connector)}]\n") as server:
        assert RelyingParty(server.issuer).login(username="janedoe@example.com", password="foo",
                                                 connector_id="ldap").code  # the pool holds open connections now
        rp = RelyingParty(server.issuer)  # a browser with no session yet
        form, answered_at, ended = _while_the_directory_hangs(
            slapd, lambda: RelyingParty(server.issuer).authorize(username="janedoe@example.com", password="foo",
                                                                 connector_id="ldap", state="s").status_code,
            lambda: rp.browse(rp.auth_url(connector_id="ldap", state="s")))
    assert form.status_code == 200 and 'name="password"' in form.text
    assert answered_at < min(ended), "a login page waited behind the directory"


def test_kubernetes_api_outage_under_load(kube_api: KubeAPIFixture, tmp_path: Path, readiness) -> None:  # noqa: F811
    kube_api.create_crds(CRD_DIR)
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    (tmp_path / "dexpy").mkdir()
    config = load_config(str(write_config(tmp_path / "dexpy", NO_RATE_LIMIT + "oauth2:\n  passwordConnector: local\n")))
    config.storage = StorageConfig("kubernetes", {"kubeConfigFile": str(kubeconfig), "crdHandling": "check",
                                                  "inCluster": False})
    with serve_config(config, storage=build_storage(config)) as server:
        ready = readiness(server)
        load = Load(server.issuer, "admin@example.com", "password")
        with load.running():
            load.wait_for(200)
            kube_api.stop()
            load.wait_for(503)
            assert httpx.get(f"{server.issuer}/healthz").status_code == 503
            assert ready().status_code == 503
            kube_api.start()
            load.wait_for(200)
            assert httpx.get(f"{server.issuer}/healthz").status_code == 200
        assert set(load.statuses) <= {200, 503}, load.statuses
        lost_links = [r for r in kube_api.lost_answers if r.resource == "offlinesessionses" and r.status < 300]
        assert_nothing_half_stored(server, load, linked_unanswered=len(lost_links))
