"""Login latency and throughput of the LDAP connector against a real slapd (the test fixture).

    .venv/bin/python -m bench.ldap_login [-n 2000] [--threads 1 4 8] [--groups] [--tls]

Prints median and p99 latency and logins/s for each thread count, through the connector's pools.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dexpy.connectors.base import Scopes, build_connector
from dexpy.connectors.ldap import LDAPConnector
from tests.connectors.conftest import dex_example_config
from tests.fixtures.slapd import running_slapd


def run(connector: LDAPConnector, logins: int, threads: int, scopes: Scopes) -> tuple[float, float, float]:
    def one(_: int) -> float:
        start = time.perf_counter()
        if connector.login(scopes, "janedoe@example.com", "foo") is None:
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_slapd(Path(tmp) / "slapd") as slapd:
        config = dex_example_config(slapd)
        if args.tls:
            config.pop("insecureNoSSL")
            config.update(host=slapd.ldaps_host, rootCA=str(slapd.ca_file))
        config.update(timeout="10s", poolSize=max(args.threads))
        connector = build_connector("ldap", config)
        assert isinstance(connector, LDAPConnector)
        scopes = Scopes(groups=args.groups)
        run(connector, 50, 1, scopes)  # warm the pools
        print(f"{'ldaps' if args.tls else 'ldap'}, groups={args.groups}, {args.logins} logins per row")
        print(f"{'threads':>7} {'median ms':>10} {'p99 ms':>8} {'logins/s':>9}")
        for threads in args.threads:
            median, p99, rate = run(connector, args.logins, threads, scopes)
            print(f"{threads:>7} {median * 1000:>10.2f} {p99 * 1000:>8.2f} {rate:>9.0f}")
        connector.close()


if __name__ == "__main__":
    main()
