"""The benchmark: dexpy beside panva's oidc-provider on this machine, wrk load, reference figures, targets.

    .venv/bin/python -m bench.run            # full comparison, a few minutes
    .venv/bin/python -m bench.run --quick    # smoke check: short runs, one repetition
    .venv/bin/python -m bench.run --no-peer  # dexpy alone (no npm)

docs/performance.md explains the set-up and the figures.
"""

from __future__ import annotations

import argparse
import base64
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import login, servers, wrk
from bench.reference import signatures_per_second
from bench.servers import Server
from bench.wrk import Request, Result

SCENARIOS = ("discovery", "jwks", "token refresh_token", "token client_credentials", "userinfo", "login (auth code+PKCE)")


@dataclass(frozen=True)
class Settings:
    seconds: float
    repetitions: int
    login_seconds: float

    @classmethod
    def of(cls, quick: bool) -> Settings:
        return cls(1, 1, 1) if quick else cls(5, 3, 5)


@dataclass
class Measured:
    """Everything measured on one server."""

    results: dict[str, Result | None] = field(default_factory=dict)
    cpu_us: dict[str, float] = field(default_factory=dict)
    """Server CPU (all its processes) per answer, over a scenario's repetitions (and a login warm-up)."""
    rss_mb: list[float] = field(default_factory=list)
    startup_s: float = 0.0


def basic(server: Server, client_id: str = "") -> str:
    raw = f"{client_id or server.client_id}:{server.client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def requests(server: Server) -> dict[str, Request | None]:
    """The wrk requests of each scenario; tokens come from real logins before the load starts."""
    tokens = login.mint(server)
    userinfo_token = login.mint(server, server.userinfo_client)["access_token"] if server.userinfo_client \
        else tokens["access_token"]
    token_url = f"{server.issuer}/token"
    return {
        "discovery": Request(f"{server.issuer}/.well-known/openid-configuration"),
        "jwks": Request(_advertised(server, "jwks_uri")),
        "token refresh_token": Request(token_url, "POST", f"grant_type=refresh_token&refresh_token={tokens['refresh_token']}",
                                       basic(server)),
        "token client_credentials": Request(token_url, "POST", "grant_type=client_credentials", basic(server)),
        "userinfo": Request(_advertised(server, "userinfo_endpoint"), authorization=f"Bearer {userinfo_token}"),
    }


def _advertised(server: Server, name: str) -> str:
    """An endpoint's URL from the server's discovery document (oidc-provider's userinfo is `/me`)."""
    import httpx

    return str(httpx.get(f"{server.issuer}/.well-known/openid-configuration").json()[name])


def measure(sides: Sequence[tuple[Server, tuple[str, ...]]], settings: Settings) -> list[Measured]:
    """Each server's scenarios (side by side: a server and the scenarios it takes), one repetition at a time and
    the servers in turn (dexpy, peer, dexpy, peer, …), so that a machine whose speed drifts during the run
    moves both sides of a ratio alike."""
    measured = [Measured(startup_s=server.startup_s) for server, _ in sides]
    plans = [requests(server) for server, _ in sides]
    for name in SCENARIOS:
        is_login = name.startswith("login")
        taking = [i for i, (_, scenarios) in enumerate(sides)
                  if name in scenarios and (is_login or plans[i].get(name) is not None)]
        warm_ups = 1 if is_login else 0
        taken: dict[int, list[Result]] = {i: [] for i in taking}
        cpu = dict.fromkeys(taking, 0.0)
        for repetition in range(warm_ups + settings.repetitions):
            for i in taking:
                server = sides[i][0]
                before = servers.cpu_seconds(server.pid)
                taken[i].append(_run_once(server, plans[i], name, settings, warm_up=repetition < warm_ups))
                cpu[i] += servers.cpu_seconds(server.pid) - before
        for i in taking:
            measured[i].results[name] = Result.median_of(taken[i][warm_ups:])
            answers = sum(result.answers for result in taken[i])
            if answers:
                measured[i].cpu_us[name] = cpu[i] / answers * 1e6
    for (server, _), result in zip(sides, measured, strict=True):
        result.rss_mb = servers.rss_mb(server.pid)
    return measured


def _run_once(server: Server, plan: dict[str, Request | None], name: str, settings: Settings,
              warm_up: bool = False) -> Result:
    """One repetition of a scenario; for a login, a warm-up (templates, connections) if asked, whose answers
    count toward the CPU per login but not toward its rate."""
    if name.startswith("login"):
        return login.login_load(server, min(settings.login_seconds, 1) if warm_up else settings.login_seconds)
    request = plan[name]
    assert request is not None
    return wrk.run_once(request, settings.seconds)


@contextmanager
def kubernetes_dexpy(directory: Path) -> Iterator[Server]:
    """dexpy on the Kubernetes storage, against the fake API server of the test fixtures (in this process)."""
    from dexpy.storage.kubernetes.crds import CRD_DIR
    from tests.fixtures.kubeapi.fixture import start_fake

    fake = start_fake()
    try:
        fake.create_crds(CRD_DIR)
        kubeconfig = fake.write_kubeconfig(directory / "kubeconfig")
        with servers.dexpy(directory, storage="kubernetes",
                           storage_config=f"{{kubeConfigFile: {kubeconfig}, crdHandling: check}}") as server:
            yield server
    finally:
        fake.stop()


# --- the report ------------------------------------------------------------------------------------------------


def _cell(measured: Measured | None, name: str) -> str:
    result = measured.results.get(name) if measured else None
    if measured is None or result is None:
        return f"{'n/a':>12}{'':>11}{'':>8}"
    flag = "!" if result.error_ratio > 0.001 else " "
    cpu = measured.cpu_us.get(name)
    return f"{result.rps:>11.0f}{flag}{result.p99_ms:>9.1f}ms" + (f"{cpu:>8.0f}" if cpu is not None else f"{'':>8}")


def table(dexpy: Measured, peer: Measured | None, kube: Measured | None) -> list[str]:
    lines = [f"{'scenario':<28}{'dexpy req/s':>12}{'p99':>11}{'µs CPU':>8}{'peer req/s':>12}{'p99':>11}{'µs CPU':>8}"
             f"{'dexpy/peer':>12}"]
    for name in SCENARIOS:
        mine = dexpy.results.get(name)
        theirs = peer.results.get(name) if peer else None
        ratio = f"{mine.rps / theirs.rps:>11.2f}x" if mine and theirs else f"{'':>12}"
        lines.append(f"{name:<28}{_cell(dexpy, name)}{_cell(peer, name)}{ratio}")
    if kube is not None:
        lines.append(f"{'token refresh (kubernetes)':<28}{_cell(kube, 'token refresh_token')}")
    lines.append(f"(! = more than 0.1% of answers were errors; login = complete logins/s, {login.CONCURRENCY} "
                 "concurrent users;")
    lines.append(" µs CPU = the server's CPU time, all its processes, per answer or login)")
    return lines


def targets(dexpy: Measured, peer: Measured | None, kube: Measured | None, signatures: dict[str, float],
            workers: int) -> list[tuple[str, bool | None]]:
    """(target, PASS/FAIL, or None when it cannot be checked in this run)."""
    def rps(m: Measured | None, name: str) -> float | None:
        r = m.results.get(name) if m else None
        return r.rps if r else None

    def at_least(a: float | None, b: float | None, factor: float = 1.0) -> bool | None:
        return None if a is None or b is None else a >= factor * b

    refresh = dexpy.results.get("token refresh_token")
    floor = 0.8 * signatures["RS256"] / 2
    return [
        ("discovery >= peer", at_least(rps(dexpy, "discovery"), rps(peer, "discovery"))),
        ("JWKS >= peer", at_least(rps(dexpy, "jwks"), rps(peer, "jwks"))),
        (f"token refresh >= 0.8 x RS256/s / 2 = {floor:.0f}", at_least(rps(dexpy, "token refresh_token"), floor)),
        ("token refresh >= peer", at_least(rps(dexpy, "token refresh_token"), rps(peer, "token refresh_token"))),
        ("token refresh p99 < 50 ms", None if refresh is None else refresh.p99_ms < 50),
        (f"RSS < 150 MB per worker ({workers} workers)", max(dexpy.rss_mb) < 150 if dexpy.rss_mb else None),
        ("dexpy serve ready < 2 s", dexpy.startup_s < 2),
        ("token refresh on kubernetes within 2x of sqlite",
         at_least(rps(kube, "token refresh_token"), rps(dexpy, "token refresh_token"), 0.5)),
    ]


def report(dexpy: Measured, peer: Measured | None, kube: Measured | None, signatures: dict[str, float],
           hello: Result | None, workers: int) -> str:
    lines = table(dexpy, peer, kube)
    lines.append("")
    lines.append(f"reference: RS256 {signatures['RS256']:.0f} signatures/s per core, "
                 f"ES256 {signatures['ES256']:.0f} signatures/s per core")
    if hello is not None:
        lines.append(f"reference: bare uvicorn hello route, {workers} workers: {hello.rps:.0f} req/s, "
                     f"p99 {hello.p99_ms:.1f} ms")
    peer_rss = f", oidc-provider {max(peer.rss_mb):.0f} MB" if peer else ""
    lines.append(f"RSS after the run: dexpy {' + '.join(f'{m:.0f}' for m in dexpy.rss_mb)} MB{peer_rss}")
    peer_start = f", oidc-provider {peer.startup_s:.2f} s" if peer else ""
    lines.append(f"start-up to the first 200 on discovery: dexpy serve {dexpy.startup_s:.2f} s{peer_start}")
    lines.append("")
    for name, ok in targets(dexpy, peer, kube, signatures, workers):
        lines.append(f"{'n/a ' if ok is None else 'PASS' if ok else 'FAIL'}  {name}")
    return "\n".join(lines)


def run(settings: Settings, *, with_peer: bool, with_kube: bool, with_hello: bool,
        scenarios: tuple[str, ...] = SCENARIOS, workers: int = servers.DEXPY_WORKERS,
        progress: Callable[[str], None] = print) -> str:
    signatures = signatures_per_second(min(settings.seconds, 2))
    with tempfile.TemporaryDirectory(prefix="dexpy-bench-") as tmp:
        directory = Path(tmp)
        with ExitStack() as stack:
            progress("dexpy (sqlite3) …")
            sides = [(stack.enter_context(servers.dexpy(directory, workers=workers)), scenarios)]
            if with_peer:
                progress("oidc-provider …")
                sides.append((stack.enter_context(servers.peer()), scenarios))
            if with_kube:
                progress("dexpy (kubernetes, fake API server) …")
                sides.append((stack.enter_context(kubernetes_dexpy(directory)), ("token refresh_token",)))
            progress("measuring, the servers in turn …")
            dexpy, *others = measure(sides, settings)
        peer = others.pop(0) if with_peer else None
        kube = others.pop(0) if with_kube else None
        hello = None
        if with_hello:
            with servers.hello(directory, workers) as url:
                hello = wrk.run(Request(url), settings.seconds, settings.repetitions)
    return report(dexpy, peer, kube, signatures, hello, workers)


def main() -> None:
    parser = argparse.ArgumentParser(description="dexpy's benchmark against panva's oidc-provider")
    parser.add_argument("--quick", action="store_true", help="1 s runs, one repetition: a smoke check")
    parser.add_argument("--no-peer", action="store_true", help="skip oidc-provider (no npm)")
    parser.add_argument("--no-kube", action="store_true", help="skip the Kubernetes storage run")
    parser.add_argument("--workers", type=int, default=servers.DEXPY_WORKERS)
    args = parser.parse_args()
    print(run(Settings.of(args.quick), with_peer=not args.no_peer, with_kube=not args.no_kube, with_hello=True,
              workers=args.workers))


if __name__ == "__main__":
    main()
