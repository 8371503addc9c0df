"""Which custom resource holds each record kind: group, plural, object name and converters.

Dex's kinds keep Dex's names, plurals (typos included: `signingkeies`, `offlinesessionses`) and object
naming, so a cluster that ran Dex keeps its data. dexpy's own kinds live in the `dexpy.io` group so that
Dex's group holds only what Dex knows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dexpy import model
from dexpy.storage.kubernetes import codec, names

DEX_GROUP = "dex.coreos.com"
DEXPY_GROUP = "dexpy.io"
VERSION = "v1"


def _raw(key: str) -> str:
    return key


@dataclass(frozen=True)
class KindSpec:
    record: type
    group: str
    kind: str
    plural: str
    encode: Callable[[Any], codec.JSON]
    decode: Callable[[codec.JSON], Any]
    name_for: Callable[[str], str] = _raw
    """The object name of a record key."""
    hashed_name: bool = False
    """The name may collide, so a read compares the stored key with the one asked for."""
    cached: bool = False
    """Slow-changing: reads come from a watch-fed cache."""
    miss_is_absent: bool = False
    """With `cached`: `get` takes a miss in the synced cache as absent instead of asking the API (for records
    whose absence is the common case and where a watch's delay is acceptable: failure counters, revocations;
    this process's own writes reach its cache at once, other replicas' within the watch's delay)."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{VERSION}"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"

    def path(self, namespace: str, name: str = "") -> str:
        base = f"/apis/{self.group}/{VERSION}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{name}" if name else base

    def to_object(self, record: Any, namespace: str) -> codec.JSON:
        metadata = {"name": self.name_for(record.key), "namespace": namespace}
        return {"apiVersion": self.api_version, "kind": self.kind, "metadata": metadata} | self.encode(record)


def _offline_sessions_name(key: str) -> str:
    user_id, conn_id = json.loads(key)  # the key is `model.offline_session_key`
    return names.offline_token_name(user_id, conn_id)


KINDS: dict[type, KindSpec] = {
    spec.record: spec
    for spec in (
        KindSpec(model.Client, DEX_GROUP, "OAuth2Client", "oauth2clients", codec.encode_client, codec.decode_client,
                 names.id_to_name, hashed_name=True, cached=True),
        KindSpec(model.AuthCode, DEX_GROUP, "AuthCode", "authcodes", codec.encode_auth_code, codec.decode_auth_code),
        KindSpec(model.RefreshToken, DEX_GROUP, "RefreshToken", "refreshtokens", codec.encode_refresh_token,
                 codec.decode_refresh_token),
        KindSpec(model.OfflineSessions, DEX_GROUP, "OfflineSessions", "offlinesessionses", codec.encode_offline_sessions,
                 codec.decode_offline_sessions, _offline_sessions_name, hashed_name=True),
        KindSpec(model.Password, DEX_GROUP, "Password", "passwords", codec.encode_password, codec.decode_password,
                 lambda key: names.id_to_name(key.lower()), hashed_name=True),
        KindSpec(model.ConnectorRecord, DEX_GROUP, "Connector", "connectors", codec.encode_connector,
                 codec.decode_connector, cached=True),
        KindSpec(model.Keys, DEX_GROUP, "SigningKey", "signingkeies", codec.encode_keys, codec.decode_keys, cached=True),
        KindSpec(model.DeviceRequest, DEX_GROUP, "DeviceRequest", "devicerequests", codec.encode_device_request,
                 codec.decode_device_request, str.lower),
        KindSpec(model.DeviceToken, DEX_GROUP, "DeviceToken", "devicetokens", codec.encode_device_token,
                 codec.decode_device_token),
        KindSpec(model.Revocation, DEXPY_GROUP, "Revocation", "revocations", codec.encode_revocation,
                 codec.decode_revocation, names.id_to_name, hashed_name=True, cached=True, miss_is_absent=True),
        KindSpec(model.FailureCounter, DEXPY_GROUP, "FailureCounter", "failurecounters",
                 codec.encode_failure_counter, codec.decode_failure_counter, names.id_to_name, hashed_name=True,
                 cached=True, miss_is_absent=True),
    )
}


def spec_of(kind: type) -> KindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise TypeError(f"{kind.__name__} is not a stored record kind") from None
