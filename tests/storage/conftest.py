"""The storage backends every conformance test runs against.

A backend joins the suite with one line in `BACKENDS`: a factory that takes the pytest request (for
`tmp_path` or any fixture of its own, e.g. a fake API server) and returns an empty store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dexpy.storage import Storage
from dexpy.storage.memory import MemoryStorage
from dexpy.storage.sqlite import SQLiteStorage
from tests.storage_kubernetes.backend import kubernetes_backend

StorageFactory = Callable[[pytest.FixtureRequest], Storage]

BACKENDS: dict[str, StorageFactory] = {
    "memory": lambda request: MemoryStorage(),
    "sqlite": lambda request: SQLiteStorage(str(request.getfixturevalue("tmp_path") / "dex.db")),
    "kubernetes": kubernetes_backend,
}


@pytest.fixture(params=list(BACKENDS))
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    store = BACKENDS[request.param](request)
    yield store
    store.close()
