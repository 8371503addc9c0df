"""Refresh-token operations per second: the Kubernetes backend on the fake API server vs SQLite.

    .venv/bin/python bench/kube_store.py [--count 300]

The fake answers in-process on loopback, so the figures measure dexpy's client side (HTTP, JSON, CAS)
and the fake, not a real etcd; they say how much the backend costs per call, not cluster capacity.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dexpy.model import RefreshToken  # noqa: E402
from dexpy.storage import Storage  # noqa: E402
from dexpy.storage.kubernetes import open_kubernetes_storage  # noqa: E402
from dexpy.storage.kubernetes.crds import CRD_DIR  # noqa: E402
from dexpy.storage.sqlite import SQLiteStorage  # noqa: E402
from tests.fixtures.kubeapi.fixture import start_fake  # noqa: E402
from tests.storage.samples import sample  # noqa: E402


def rate(count: int, operation: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for i in range(count):
        operation(i)
    return count / (time.perf_counter() - start)


def measure(store: Storage, count: int) -> dict[str, float]:
    tokens = [dataclasses.replace(sample(RefreshToken), id=f"refresh-{i}") for i in range(count)]  # type: ignore[type-var]
    return {
        "create": rate(count, lambda i: store.create(tokens[i])),
        "get": rate(count, lambda i: store.get(RefreshToken, tokens[i].id)),
        "update": rate(count, lambda i: store.update(
            RefreshToken, tokens[i].id, lambda t: dataclasses.replace(t, token=f"rotated-{i}", obsolete_token=t.token))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory() as tmp:
        fake = start_fake()
        fake.create_crds(CRD_DIR)
        kube = open_kubernetes_storage({"kubeConfigFile": str(fake.write_kubeconfig(Path(tmp) / "kubeconfig")),
                                        "crdHandling": "check"})
        sqlite = SQLiteStorage(str(Path(tmp) / "dex.db"))
        results = {"kubernetes (fake API)": measure(kube, count), "sqlite": measure(sqlite, count)}
        kube.close()
        sqlite.close()
        fake.stop()
    print(f"refresh tokens, {count} of each operation, operations/s")
    print(f"{'backend':<24}{'create':>10}{'get':>10}{'update':>10}")
    for backend, ops in results.items():
        print(f"{backend:<24}{ops['create']:>10.0f}{ops['get']:>10.0f}{ops['update']:>10.0f}")


if __name__ == "__main__":
    main()
