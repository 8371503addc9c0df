"""Login latency and throughput of the LDAP connector against a real slapd (the test fixture).

    .venv/bin/python -m bench.ldap_login [-n 2000] [--threads 1 4 8] [--groups] [--tls] [--http]

Prints median and p99 latency and logins/s for each thread count, through the connector's pools; with
`--http`, whole password grants (`grant_type=password`, ID and access token signed) over loopback HTTP to a
`dexpy serve` whose password connector is the LDAP connector.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench import servers
from dexpy.connectors.base import Scopes, build_connector
from dexpy.connectors.ldap import LDAPConnector
from tests.connectors.conftest import dex_example_config
from tests.fixtures.slapd import running_slapd

def connector_login(connector: LDAPConnector, scopes: Scopes) -> Callable[[], bool]:
    return lambda: connector.login(scopes, "janedoe@example.com", "foo") is not None


def http_login(token_url: str, scopes: Scopes) -> Callable[[], bool]:
    """A password grant per call, each thread on its own keep-alive connection."""
    local = threading.local()
    form = {"grant_type": "password", "username": "janedoe@example.com", "password": "foo",
            "scope": "openid email" + (" groups" if scopes.groups else "")}

    def login() -> bool:
        if not hasattr(local, "http"):
            local.http = httpx.Client(auth=("bench", "bench-secret"), timeout=30)
        return local.http.post(token_url, data=form).status_code == 200

    return login


def run(login: Callable[[], bool], logins: int, threads: int) -> tuple[float, float, float]:
    def one(_: int) -> float:
        start = time.perf_counter()
        if not login():
            raise RuntimeError("login refused")
        return time.perf_counter() - start

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        latencies = sorted(pool.map(one, range(logins)))
    elapsed = time.perf_counter() - started
    return statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))], logins / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--logins", type=int, default=2000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--groups", action="store_true", help="request the groups scope (one more search)")
    parser.add_argument("--tls", action="store_true", help="LDAPS with the fixture's CA instead of plain LDAP")
    parser.add_argument("--http", action="store_true", help="password grants over HTTP to `dexpy serve`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_slapd(Path(tmp) / "slapd") as slapd:
        config = dex_example_config(slapd)
        if args.tls:
            config.pop("insecureNoSSL")
            config.update(host=slapd.ldaps_host, rootCA=str(slapd.ca_file))
        config.update(timeout="10s", poolSize=max(args.threads))
        scopes = Scopes(groups=args.groups)
        print(f"{'ldaps' if args.tls else 'ldap'}, groups={args.groups}, {args.logins} logins per row"
              + (", password grants over HTTP" if args.http else ""))
        if args.http:
            with serve(Path(tmp), config) as token_url:
                table(http_login(token_url, scopes), args.logins, args.threads)
        else:
            connector = build_connector("ldap", config)
            assert isinstance(connector, LDAPConnector)
            table(connector_login(connector, scopes), args.logins, args.threads)
            connector.close()


def table(login: Callable[[], bool], logins: int, thread_counts: list[int]) -> None:
    run(login, 50, 1)  # warm the pools and connections
    print(f"{'threads':>7} {'median ms':>10} {'p99 ms':>8} {'logins/s':>9}")
    for threads in thread_counts:
        median, p99, rate = run(login, logins, threads)
        print(f"{threads:>7} {median * 1000:>10.2f} {p99 * 1000:>8.2f} {rate:>9.0f}")


@contextmanager
def serve(directory: Path, ldap_config: dict[str, Any]) -> Iterator[str]:
    """`dexpy serve` (one process) with `ldap_config` as its password connector; yields the token URL."""
    connector = {"type": "ldap", "id": "ldap", "name": "LDAP", "config": ldap_config}
    with servers.dexpy(directory, workers=1, connector=connector,
                       extra_yaml="oauth2: {passwordConnector: ldap}\n") as server:
        yield f"{server.issuer}/token"


if __name__ == "__main__":
    main()
