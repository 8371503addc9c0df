"""Objects the recordings' hidden setup created, rebuilt from what the recordings show of them."""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from .replay import Replayer, load

Seed = Callable[[Replayer, str], None]
_KEEP_META = ("name", "labels", "annotations", "finalizers")
_GC_FINALIZERS = ("foregroundDeletion", "orphan")


def _collection(path: str, name: str) -> str:
    """The collection URL of an object from any URL that names it (or lists it)."""
    base = path.split("?")[0]
    parts = base.split("/")
    return "/".join(parts[:parts.index(name)]) if name in parts else base


def _create(replayer: Replayer, path: str, recorded: dict[str, Any], learn: bool) -> dict[str, Any]:
    """POST the user-set part of a recorded object; map its rv/uid to ours when its rv is the creation one."""
    meta = recorded["metadata"]
    body = {k: copy.deepcopy(v) for k, v in recorded.items() if k not in ("metadata", "status")}
    body["metadata"] = {k: copy.deepcopy(meta[k]) for k in _KEEP_META if meta.get(k)}
    finalizers = [f for f in meta.get("finalizers") or [] if f not in _GC_FINALIZERS]
    body["metadata"].pop("finalizers", None)
    if finalizers:
        body["metadata"]["finalizers"] = finalizers
    status, ours = replayer.fake.request("POST", _collection(path, meta["name"]), body)
    if status != 201:
        raise RuntimeError(f"seeding {meta['name']}: {status} {ours}")
    if learn:
        replayer.learn(recorded, ours)
    return ours


def from_answer(index: int, only: str | None = None, learn: bool = True) -> Seed:
    """Create the objects the answer of exchange ``index`` shows (one object, a list's items, or the one named ``only``)."""
    def seed(replayer: Replayer, name: str) -> None:
        exchange = load(name)[index]
        body = exchange["response"]["body"]
        for item in body.get("items", [body]):
            if only and item["metadata"]["name"] != only:
                continue
            _create(replayer, exchange["request"]["path"], {"apiVersion": body["apiVersion"], "kind": body["kind"].removesuffix("List"), **item}, learn)
    return seed


def from_status(index: int) -> Seed:
    """An object of which the recording shows only the ``Status`` its DELETE returned."""
    def seed(replayer: Replayer, name: str) -> None:
        path = load(name)[index]["request"]["path"]
        _, _, group, version, *_, plural, target = path.split("?")[0].split("/")
        rt = replayer.fake.registry.find(group, version, plural)
        assert rt is not None, path
        _create(replayer, path, {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": {"name": target}, "id": target},
                learn=False)
    return seed


def being_deleted(index: int, finalizer: str) -> Seed:
    """The object a request body shows, created with ``finalizer`` and then DELETEd (so it stays)."""
    def seed(replayer: Replayer, name: str) -> None:
        exchange = load(name)[index]
        recorded = copy.deepcopy(exchange["request"]["body"])
        recorded["metadata"]["finalizers"] = [finalizer]
        path = exchange["request"]["path"]
        ours = _create(replayer, path, recorded, learn=False)
        status, ours = replayer.fake.request("DELETE", path)
        replayer.learn(exchange["request"]["body"], ours)
    return seed


def like(indexes: tuple[int, ...], *changes: tuple[str, str]) -> Seed:
    """Repeat the requests of ``indexes`` for another object (\"created the same way, not recorded\"), replacing
    each (old, new) text: its name first, then what differs, as the later answers show."""
    new = changes[0][1]

    def seed(replayer: Replayer, name: str) -> None:
        for index in indexes:
            text = json.dumps(load(name)[index])
            for old, replacement in changes:
                text = text.replace(old, replacement)
            exchange = json.loads(text)
            status, body = replayer.send(exchange)
            if status != exchange["response"]["status"]:
                raise RuntimeError(f"seeding {new}: {status} {body}")
    return seed


def request(method: str, path: str, body: Any = None, content_type: str = "application/json") -> Seed:
    """A setup request the recording describes in words or betrays by its resourceVersions."""
    def seed(replayer: Replayer, name: str) -> None:
        status, answer = replayer.fake.request(method, path, body, content_type)
        if status >= 300:
            raise RuntimeError(f"seeding {method} {path}: {status} {answer}")
    return seed


def _no_finalizers(path: str) -> Seed:
    return request("PATCH", path, {"metadata": {"finalizers": None}}, "application/merge-patch+json")


_LIST_DEMO = "/apis/dex.coreos.com/v1/namespaces/list-demo/oauth2clients"
_DELETE_DEMO = "/apis/dex.coreos.com/v1/namespaces/delete-demo/oauth2clients"


SERVICE_ACCOUNT = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}

# file → exchange index → what the hidden setup did just before that exchange.
SEEDS: dict[str, dict[int, list[Seed]]] = {
    # c1..c5 at the start; c6 deleted and c5 recreated between [8] and [9] (resourceVersions 255, 256).
    "A06": {0: [from_answer(3)], 9: [from_answer(11, "c5"), request("DELETE", f"{_LIST_DEMO}/c6")]},
    # d4 and d5 lose their finalizers before k1..k4 are created (resourceVersions 310, 311).
    "A08": {0: [from_status(0)], 2: [from_status(2)], 19: [being_deleted(19, "dex.coreos.com/keep")],
            20: [from_answer(20, learn=False)], 22: [from_answer(22, learn=False)],
            25: [_no_finalizers(f"{_DELETE_DEMO}/d4"), _no_finalizers(f"{_DELETE_DEMO}/d5"), from_answer(25)]},
    "B13": {0: [request("DELETE", "/api/v1/namespaces/apps/serviceaccounts/default")],
            1: [request("POST", "/api/v1/namespaces/apps/serviceaccounts", SERVICE_ACCOUNT)],
            4: [like((2, 3), ("p-web-1", "p-web-2"), ("10.244.1.5", "10.244.1.6"))], 33: [from_answer(33, learn=False)]},
    "B16": {9: [like((0,), ("upgrade-precheck", "upgrade-precheck-fail"))]},
}
