"""Replays recorded kube-apiserver exchanges against the fake and reports where the answers differ."""
from __future__ import annotations

import base64
import http.client
import itertools
import json
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.fixtures.kubeapi import Rule
from tests.fixtures.kubeapi.fixture import KubeAPIFixture

RECORDINGS = Path("/work/shared/reference/kube-api")
_VOLATILE_META = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "deletionTimestamp", "storageVersionHash")
_NUMBERS = re.compile(r"\d{3,}")
_TOKEN_VOLUME = re.compile(r"kube-api-access-[a-z0-9]{5}")
_OPENSHIFT_SOURCE = {"configMap": {"name": "openshift-service-ca.crt", "items": [{"key": "service-ca.crt", "path": "service-ca.crt"}]}}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def load(name: str) -> list[dict[str, Any]]:
    return json.loads(next(RECORDINGS.glob(f"{name}*.json")).read_text())


def _synthesize(body: Any) -> Any:
    """Oversized bodies are recorded as a description: rebuild them."""
    if isinstance(body, dict) and "_recorded_as" in body:
        size = int(re.search(r"holding a string of (\d+)", body["_recorded_as"]).group(1))
        name = re.search(r"named (\S+)", body["_recorded_as"]).group(1)
        return {"apiVersion": "dex.coreos.com/v1", "kind": "OAuth2Client", "metadata": {"name": name}, "id": "x",
                "blob": "x" * size}
    return body


class Replayer:
    """Maps recorded resourceVersions and uids to the fake's own as answers come in."""

    def __init__(self, fake: KubeAPIFixture, tokens: dict[str | None, str | None] | None = None) -> None:
        self.fake = fake
        self.rvs: dict[str, str] = {}
        self.uids: dict[str, str] = {}
        self.tokens = tokens or {}

    def _map_rv(self, rv: str) -> str:
        """Ours for a recorded rv; an rv never seen (another resource's write) maps like the last seen before it."""
        if rv in self.rvs or not rv.isdigit():
            return self.rvs.get(rv, rv)
        earlier = [int(r) for r in self.rvs if r.isdigit() and int(r) < int(rv)]
        later = [r for r in self.rvs if r.isdigit() and int(r) > int(rv)]
        return self.rvs[str(max(earlier))] if earlier and later else rv

    def _rewrite(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key == "resourceVersion" and isinstance(item, str):
                    out[key] = self._map_rv(item)
                elif key == "uid" and isinstance(item, str):
                    out[key] = self.uids.get(item, item)
                else:
                    out[key] = self._rewrite(item)
            return out
        if isinstance(value, list):
            return [self._rewrite(v) for v in value]
        return value

    def _rewrite_path(self, path: str) -> str:
        def token(match: re.Match[str]) -> str:
            raw = match.group(1)
            data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            data["rv"] = int(self._map_rv(str(data["rv"])))
            return "continue=" + base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
        path = re.sub(r"continue=([A-Za-z0-9_-]{20,})", token, path)
        return re.sub(r"resourceVersion=(\d+)", lambda m: "resourceVersion=" + self._map_rv(m.group(1)), path)

    def send(self, exchange: dict[str, Any]) -> tuple[int, Any]:
        req = exchange["request"]
        body = _synthesize(req.get("body"))
        if body is not None and not isinstance(body, str):
            body = self._rewrite(body)
        token = self.tokens.get(exchange.get("as_user"), self.fake.token)
        return self.fake.request(req["method"], self._rewrite_path(req["path"]), body,
                                 req.get("headers", {}).get("Content-Type", "application/json"), token=token)

    def watch(self, exchange: dict[str, Any], seconds: int) -> tuple[int, list[tuple[float, Any]], float]:
        """Open a recorded watch with ``timeoutSeconds=seconds``; returns (status, [(arrival, event)], closed after)."""
        path = re.sub(r"timeoutSeconds=\d+", f"timeoutSeconds={seconds}", self._rewrite_path(exchange["request"]["path"]))
        conn = http.client.HTTPConnection(urlsplit(self.fake.url).netloc, timeout=seconds + 5)
        token = self.tokens.get(exchange.get("as_user"), self.fake.token)
        start = time.monotonic()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
        resp = conn.getresponse()
        events = [(time.monotonic() - start, json.loads(line)) for line in iter(resp.readline, b"") if line.strip()]
        closed = time.monotonic() - start
        conn.close()
        return resp.status, events, closed

    def learn(self, recorded: Any, ours: Any) -> list[str]:
        """Record rv/uid correspondences; report an rv that moved when it should not have (or vice versa)."""
        problems = []
        if isinstance(recorded, dict) and isinstance(ours, dict):
            rmeta, ometa = recorded.get("metadata") or {}, ours.get("metadata") or {}
            rec_rv, our_rv = rmeta.get("resourceVersion"), ometa.get("resourceVersion")
            if rec_rv and our_rv:
                known = self.rvs.get(rec_rv)
                if known is None and our_rv in self.rvs.values() and recorded.get("kind", "").endswith("List") is False:
                    problems.append(f"resourceVersion {our_rv} reused where the server moved on")
                elif known is not None and known != our_rv and "items" not in recorded:
                    problems.append(f"resourceVersion moved ({known} → {our_rv}) where the server kept it")
                self.rvs.setdefault(rec_rv, our_rv)
            if rmeta.get("uid") and ometa.get("uid"):
                self.uids.setdefault(rmeta["uid"], ometa["uid"])
            for rec_item, our_item in zip(recorded.get("items") or [], ours.get("items") or []):
                problems += self.learn(rec_item, our_item)
        return problems


def normalise(value: Any) -> Any:
    """Drop fields that legitimately differ between servers (ids, times, resourceVersions, managedFields, random
    name suffixes) and the token volume source the README names as OpenShift's addition."""
    if isinstance(value, str):
        return _TOKEN_VOLUME.sub("kube-api-access-XXXXX", _UUID.sub("UUID", value))
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "name" and value.get("generateName"):
                continue  # random suffix
            if key in _VOLATILE_META or key.endswith("Time") or key.endswith("Timestamp") or key == "time":
                continue
            if key == "message" and isinstance(item, str):
                out[key] = _NUMBERS.sub("N", _UUID.sub("UUID", item))
            elif key == "continue" and isinstance(item, str):
                out[key] = bool(item)
            else:
                out[key] = normalise(item)
        return out
    if isinstance(value, list):
        return [normalise(v) for v in value if v != _OPENSHIFT_SOURCE]
    return value


def _differences(want: Any, got: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as ``path: want != got`` lines."""
    if isinstance(want, dict) and isinstance(got, dict):
        return [d for key in sorted(set(want) | set(got), key=str)
                for d in _differences(want.get(key, "<absent>"), got.get(key, "<absent>"), f"{path}.{key}")]
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [d for i, (w, g) in enumerate(zip(want, got)) for d in _differences(w, g, f"{path}[{i}]")]
    return [] if want == got else [f"{path or '.'}: want {json.dumps(want)[:300]} got {json.dumps(got)[:300]}"]


def compare(exchange: dict[str, Any], status: int, body: Any) -> list[str]:
    expected = exchange["response"]
    problems = []
    if status != expected["status"]:
        problems.append(f"status {status} != {expected['status']}: {json.dumps(body)[:300]}")
    elif isinstance(expected["body"], dict) and isinstance(body, dict):
        want, got = normalise(expected["body"]), normalise(body)
        if "blob" in expected["body"]:
            want.pop("blob"), got.pop("blob", None)
        if want != got:
            problems.append("body differs: " + "; ".join(_differences(want, got))[:1500])
    elif expected["body"] != body:
        problems.append(f"body {body!r} != {expected['body']!r}")
    return problems


WatchResult = tuple[int, list[tuple[float, Any]], float]


def compare_watch(exchange: dict[str, Any], replayer: Replayer, result: WatchResult, seconds: int) -> list[str]:
    """A watch replayed in ``seconds`` instead of its recorded timeout: same events in the same order, the closing
    bookmark as long before the end as recorded, the stream closed by the server at the timeout."""
    status, events, closed = result
    recorded = exchange["response"]
    if status != recorded["status"]:
        return [f"status {status} != {recorded['status']}"]
    want = [e["event"] for e in recorded["events"]]
    problems = [f"events differ: {d}" for d in _differences(normalise(want), normalise([e for _, e in events]))]
    for rec, (arrival, ours) in zip(recorded["events"], events):
        if rec["event"]["type"] != "BOOKMARK":  # a bookmark carries the global rv other resources move on
            problems += replayer.learn(rec["event"]["object"], ours["object"])
        before_end = recorded["stream_closed_after_seconds"] - rec["received_after_seconds"]
        if rec["event"]["type"] == "BOOKMARK" and before_end < recorded["stream_closed_after_seconds"] - 1:
            if abs((closed - arrival) - before_end) > 1:
                problems.append(f"bookmark {closed - arrival:.1f}s before the end, recorded {before_end:.1f}s")
    if recorded["stream_closed_after_seconds"] >= 1 and abs(closed - seconds) > 0.5:
        problems.append(f"stream closed after {closed:.1f}s, timeoutSeconds={seconds}")
    return problems


def _replay_watches(name: str, exchanges: list[dict[str, Any]], first: int, replayer: Replayer,
                    watches: Mapping[int, int]) -> list[str]:
    """Consecutive watches (no writes between them) run side by side to keep the replay short."""
    run = list(itertools.takewhile(lambda i: i in watches, itertools.count(first)))
    with ThreadPoolExecutor(len(run)) as pool:
        results = list(pool.map(lambda i: replayer.watch(exchanges[i], watches[i]), run))
    return [f"{name}[{i}] {exchanges[i]['title']}: {p}" for i, result in zip(run, results)
            for p in compare_watch(exchanges[i], replayer, result, watches[i])]


def replay(fake: KubeAPIFixture, name: str, skip: dict[int, str], replayer: Replayer | None = None,
           seeds: Mapping[int, list[Callable[[Replayer, str], None]]] | None = None,
           watch_seconds: Mapping[int, int] | None = None) -> list[str]:
    """Run one recording file; returns readable problems (empty when the fake matched).

    ``seeds`` recreate, before an exchange, what the recording's hidden setup did just before it. Watches run
    after the writes recorded "during" them (they start from a resourceVersion, so they see the same events), with
    the shorter timeouts of ``watch_seconds``; watches missing from it are not replayed."""
    replayer = replayer or Replayer(fake)
    watches = {i: t for i, t in (watch_seconds or {}).items() if i not in skip}
    exchanges = load(name)
    problems = []
    for index, exchange in enumerate(exchanges):
        for seed in (seeds or {}).get(index, []):
            seed(replayer, name)
        if index in skip:
            continue
        if "events" in exchange["response"]:
            if index in watches and index - 1 not in watches:
                problems += _replay_watches(name, exchanges, index, replayer, watches)
            continue
        status, body = replayer.send(exchange)
        found = compare(exchange, status, body) + replayer.learn(exchange["response"]["body"], body)
        problems += [f"{name}[{index}] {exchange['title']}: {p}" for p in found]
    return problems


def standard_setup(fake: KubeAPIFixture) -> Replayer:
    """Namespaces, users and CRDs the recordings were made with."""
    for ns in ("list-demo", "watch-demo", "delete-demo", "apps"):
        fake.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    reader = Rule(frozenset({"get", "list", "watch"}), frozenset({"oauth2clients"}), frozenset({"default"}))
    tokens: dict[str | None, str | None] = {
        "alice": fake.add_user("alice"), "bob": fake.add_user("bob", [reader]),
        "an unknown bearer token": "not-a-known-token", "anonymous (no Authorization header)": "",
    }
    sa = next(k for k in (e.get("as_user") for e in load("A09")) if k and k.startswith("system:serviceaccount"))
    tokens[sa] = fake.add_user("system:serviceaccount:default:dexpy")
    return Replayer(fake, tokens)
