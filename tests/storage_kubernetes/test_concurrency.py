"""Several replicas on one cluster: compare-and-swap through resourceVersion decides every race."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from dexpy.model import KEYS_KEY, Keys, RefreshToken
from dexpy.storage import Conflict
from dexpy.storage.kubernetes import KubernetesStorage
from dexpy.storage.kubernetes.store import UPDATE_ATTEMPTS
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


def test_an_update_after_a_read_costs_one_request_and_a_stale_copy_is_decided_again(open_store: OpenStore,
                                                                                      kube) -> None:
    """A refresh reads its token, then rotates it from the copy it read: one PUT. When another replica wrote
    in between, the API refuses the stale PUT (409), and what the updater decides on the stale copy — here a
    refusal — is decided again on the object the API has."""
    ours, theirs = open_store(), open_store()
    token: RefreshToken = sample(RefreshToken)  # type: ignore[assignment]
    ours.create(token)
    seen = ours.get(RefreshToken, token.id)

    kube.clear_log()
    ours.update(RefreshToken, token.id, lambda t: dataclasses.replace(t, token="second"))
    assert [(r.verb, r.status) for r in kube.requests if r.resource == "refreshtokens"] == [("update", 200)]

    theirs.update(RefreshToken, token.id, lambda t: dataclasses.replace(t, token="third"))  # our copy is stale
    kube.clear_log()
    decided_on: list[str] = []

    def rotate_from_third(current: RefreshToken) -> RefreshToken:
        decided_on.append(current.token)
        if current.token != "third":
            raise Stale(current.token)
        return dataclasses.replace(current, token="fourth", obsolete_token=current.token)

    assert ours.update(RefreshToken, token.id, rotate_from_third).token == "fourth"
    assert decided_on == ["second", "third"]
    assert [r.verb for r in kube.requests if r.resource == "refreshtokens"] == ["get", "update"]
    assert seen.token == token.token and theirs.get(RefreshToken, token.id).token == "fourth"


def test_a_put_from_a_stale_copy_is_refused_and_retried_on_the_current_object(open_store: OpenStore, kube) -> None:
    ours, theirs = open_store(), open_store()
    token: RefreshToken = sample(RefreshToken)  # type: ignore[assignment]
    ours.create(token)
    theirs.update(RefreshToken, token.id, lambda t: dataclasses.replace(t, scopes=["openid", "groups"]))
    kube.clear_log()

    updated = ours.update(RefreshToken, token.id, lambda t: dataclasses.replace(t, token="next"))

    assert (updated.token, updated.scopes) == ("next", ["openid", "groups"])  # their write is kept
    assert [(r.verb, r.status) for r in kube.requests if r.resource == "refreshtokens"] == [
        ("update", 409), ("get", 200), ("update", 200)]


def test_an_update_that_changes_nothing_on_a_stale_copy_looks_again(open_store: OpenStore, kube) -> None:
    ours, theirs = open_store(), open_store()
    token: RefreshToken = sample(RefreshToken)  # type: ignore[assignment]
    ours.create(token)
    theirs.update(RefreshToken, token.id, lambda t: dataclasses.replace(t, token="theirs"))

    def keep_only_the_original(current: RefreshToken) -> RefreshToken:
        return current if current.token == token.token else dataclasses.replace(current, token=token.token)

    assert ours.update(RefreshToken, token.id, keep_only_the_original).token == token.token
    assert theirs.get(RefreshToken, token.id).token == token.token


def test_an_update_that_changes_nothing_on_a_current_copy_is_confirmed_by_one_read(open_store: OpenStore,
                                                                                   kube) -> None:
    """A refresh that records nothing: one GET confirms the copy is the API's object (same resourceVersion), and
    the updater's decision on it stands; it is not decided again on a second decoding of the same object."""
    store = open_store()
    token: RefreshToken = sample(RefreshToken)  # type: ignore[assignment]
    store.create(token)
    kube.clear_log()
    decided: list[str] = []

    def unchanged(current: RefreshToken) -> RefreshToken:
        decided.append(current.token)
        return current

    assert store.update(RefreshToken, token.id, unchanged).token == token.token
    assert decided == [token.token]
    assert [r.verb for r in kube.requests if r.resource == "refreshtokens"] == ["get"]


def test_an_object_that_keeps_changing_is_a_conflict_after_a_bounded_number_of_tries(open_store: OpenStore,
                                                                                     kube) -> None:
    store = open_store()
    token: RefreshToken = sample(RefreshToken)  # type: ignore[assignment]
    store.create(token)
    kube.fail_when(lambda request: request.verb == "update" and request.resource == "refreshtokens", code=409,
                   message="the object has been modified; please apply your changes to the latest version")
    kube.clear_log()
    with pytest.raises(Conflict, match=f"{UPDATE_ATTEMPTS} attempts"):
        store.update(RefreshToken, token.id, lambda t: dataclasses.replace(t, token="next"))
    puts = [r for r in kube.requests if r.verb == "update" and r.resource == "refreshtokens"]
    assert len(puts) == UPDATE_ATTEMPTS
    kube.clear_faults()
    assert store.get(RefreshToken, token.id).token == token.token  # nothing half-written
