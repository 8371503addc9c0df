"""Several replicas on one cluster: compare-and-swap through resourceVersion decides every race."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from dexpy.model import KEYS_KEY, Keys, RefreshToken
from dexpy.storage.kubernetes import KubernetesStorage
from tests.storage.samples import T0, sample
from tests.storage_kubernetes.conftest import OpenStore


class Stale(Exception):
    """The refresh token was already used: what the token endpoint answers with invalid_grant."""


def race(workers: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    start = threading.Barrier(len(workers))
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(work: Callable[[], Any]) -> None:
        start.wait()
        try:
            results.append(work())
        except BaseException as err:  # collected for the assertions
            errors.append(err)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_concurrent_refreshes_on_two_replicas_make_exactly_one_successor(open_store: OpenStore) -> None:
    replicas = [open_store(), open_store()]
    token: RefreshToken = sample(RefreshToken)  # type: ignore[assignment]
    replicas[0].create(token)

    def refresh(store: KubernetesStorage, new_secret: str) -> str:
        def rotate(current: RefreshToken) -> RefreshToken:
            if current.token != token.token:
                raise Stale(current.token)
            return dataclasses.replace(current, token=new_secret, obsolete_token=current.token)

        return store.update(RefreshToken, token.id, rotate).token

    workers = [lambda i=i: refresh(replicas[i % 2], f"successor-{i}") for i in range(12)]
    winners, errors = race(workers)

    assert len(winners) == 1
    assert len(errors) == 11 and all(isinstance(err, Stale) for err in errors)
    stored = replicas[1].get(RefreshToken, token.id)
    assert (stored.token, stored.obsolete_token) == (winners[0], token.token)


def test_only_one_replica_rotates_the_keys(open_store: OpenStore) -> None:
    replicas = [open_store(), open_store(), open_store()]
    replicas[0].create(sample(Keys))
    now = T0 + timedelta(hours=7)  # past the sample's next rotation

    def rotate_if_due(replica: int) -> Callable[[Keys], Keys]:
        def rotate(keys: Keys) -> Keys:
            if keys.next_rotation > now:
                return keys  # another replica rotated: use its keys
            jwk = {**(keys.signing_key_pub or {}), "kid": f"rotated-by-{replica}"}
            return dataclasses.replace(keys, signing_key_pub=jwk, next_rotation=now + timedelta(hours=6))
        return rotate

    results, errors = race([lambda i=i: replicas[i].update(Keys, KEYS_KEY, rotate_if_due(i)) for i in range(3)])

    assert errors == []
    kids = {keys.signing_key_pub["kid"] for keys in results}
    assert len(kids) == 1 and kids.pop().startswith("rotated-by-")
