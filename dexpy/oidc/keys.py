"""Signing keys: one key set in storage shared by every replica, rotated by exactly one of them.

Rotation follows Dex (`server/signer/rotation.go`): when `next_rotation` has passed, the current public key is
demoted to a verification key kept until every token it signed has expired (now + ID-token lifetime), a new key
pair is installed and `next_rotation` moves on. The write is a compare-and-swap whose updater refuses when another
replica has already rotated, so two replicas never both rotate; the loser just reads the winner's keys.

Key objects are imported once per rotation and the JWKS document is serialised once, so signing and `/keys`
cost no parsing per request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from joserfc.jwk import ECKey, Key, KeyParameters, KeySet, RSAKey

from dexpy.clock import Clock
from dexpy.loopwork import waits
from dexpy.model import KEYS_KEY, Keys, VerificationKey
from dexpy.oidc.jws import CompactSigner
from dexpy.storage import AlreadyExists, NotFound, Storage

log = logging.getLogger(__name__)

SUPPORTED_ALGORITHMS = ("RS256", "ES256")
VERIFY_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
"""What a token signed by any key we ever published may use; never `none`, never HMAC."""


class _AlreadyRotated(Exception):
    pass


def generate_private_jwk(algorithm: str) -> dict[str, object]:
    kid = secrets.token_hex(20)
    params: KeyParameters = {"kid": kid, "use": "sig", "alg": algorithm}
    key: RSAKey | ECKey
    if algorithm == "RS256":
        key = RSAKey.generate_key(2048, parameters=params, private=True)
    elif algorithm == "ES256":
        key = ECKey.generate_key("P-256", parameters=params, private=True)
    else:
        raise ValueError(f"unsupported signing algorithm {algorithm!r}")
    return dict(key.as_dict(private=True))


def public_jwk(private: dict[str, object]) -> dict[str, object]:
    key = _import(private)
    return dict(key.as_dict(private=False))


def _import(jwk: dict[str, object]) -> RSAKey | ECKey:
    if jwk.get("kty") == "EC":
        return ECKey.import_key(jwk)  # type: ignore[arg-type]
    return RSAKey.import_key(jwk)  # type: ignore[arg-type]


@dataclass(frozen=True)
class KeySnapshot:
    """Everything derived from one version of the stored key set."""

    signer: CompactSigner
    algorithm: str
    kid: str
    verify_keys: KeySet
    jwks_json: bytes
    state_keys: tuple[bytes, ...]
    next_rotation: datetime


def rotated(keys: Keys, now: datetime, new_private: dict[str, object], new_state_key: bytes,
            period: timedelta, id_token_ttl: timedelta) -> Keys:
    """The key set after one rotation at `now` (pure). Raises _AlreadyRotated if no rotation is due."""
    if keys.signing_key is not None and now < keys.next_rotation:
        raise _AlreadyRotated()
    kept = [vk for vk in keys.verification_keys if vk.expiry > now]
    if keys.signing_key_pub is not None:
        kept.append(VerificationKey(public_key=keys.signing_key_pub, expiry=now + id_token_ttl))
    return Keys(
        signing_key=new_private,
        signing_key_pub=public_jwk(new_private),
        verification_keys=kept,
        next_rotation=now + period,
        state_keys=[new_state_key, *keys.state_keys[:1]],
    )


class KeyManager:
    def __init__(self, storage: Storage, clock: Clock, *, rotation_period: timedelta,
                 id_token_ttl: timedelta, algorithm: str = "RS256") -> None:
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise ValueError(f"unsupported signing algorithm {algorithm!r}")
        self._storage = storage
        self._clock = clock
        self._period = rotation_period
        self._id_token_ttl = id_token_ttl
        self._algorithm = algorithm
        self._snapshot: KeySnapshot | None = None
        self._source: Keys | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> KeySnapshot:
        """The key set in force; reloads from storage (rotating if due) once `next_rotation` has passed."""
        snap = self._snapshot
        if snap is None or self._clock() >= snap.next_rotation:
            return self.refresh()
        return snap

    @waits  # holds a lock across storage round trips: never on the event loop
    def refresh(self) -> KeySnapshot:
        """Read the stored keys, rotate when due, and rebuild the cached snapshot."""
        with self._lock:
            keys = self._load_or_rotate()
            if self._snapshot is None or keys != self._source:
                self._snapshot, self._source = _snapshot(keys), keys
            return self._snapshot

    def _load_or_rotate(self) -> Keys:
        now = self._clock()
        try:
            keys = self._storage.get(Keys, KEYS_KEY)
        except NotFound:
            keys = Keys()
            try:
                self._storage.create(self._rotate_from(keys, now))
                log.info("created the signing key set")
            except AlreadyExists:
                pass  # another replica created it first
            return self._storage.get(Keys, KEYS_KEY)
        if keys.signing_key is not None and now < keys.next_rotation:
            return keys
        new_private = generate_private_jwk(self._algorithm)
        new_state_key = secrets.token_bytes(32)
        try:
            keys = self._storage.update(
                Keys,
                KEYS_KEY,
                lambda k: rotated(k, now, new_private, new_state_key, self._period, self._id_token_ttl),
            )
            log.info("rotated signing keys", extra={"kid": new_private["kid"]})
        except _AlreadyRotated:
            keys = self._storage.get(Keys, KEYS_KEY)
        return keys

    def _rotate_from(self, keys: Keys, now: datetime) -> Keys:
        return rotated(keys, now, generate_private_jwk(self._algorithm), secrets.token_bytes(32), self._period,
                       self._id_token_ttl)


def _jwks_json(keys: Keys) -> bytes:
    jwks = [keys.signing_key_pub] if keys.signing_key_pub else []
    jwks += [vk.public_key for vk in keys.verification_keys]
    return json.dumps({"keys": jwks}, indent=2).encode()


def _snapshot(keys: Keys) -> KeySnapshot:
    assert keys.signing_key is not None
    algorithm = str(keys.signing_key.get("alg") or ("ES256" if keys.signing_key.get("kty") == "EC" else "RS256"))
    kid = str(keys.signing_key.get("kid", ""))
    verify: list[Key] = [_import(keys.signing_key_pub or keys.signing_key)]
    verify += [_import(vk.public_key) for vk in keys.verification_keys]
    return KeySnapshot(
        signer=CompactSigner(_import(keys.signing_key), algorithm, kid),
        algorithm=algorithm,
        kid=kid,
        verify_keys=KeySet(verify),
        jwks_json=_jwks_json(keys),
        state_keys=tuple(keys.state_keys) or (_derived_state_key(keys),),
        next_rotation=keys.next_rotation,
    )


def _derived_state_key(keys: Keys) -> bytes:
    """A key set written by Dex has no state keys until dexpy first rotates it; derive one meanwhile."""
    material = json.dumps(keys.signing_key, sort_keys=True).encode()
    return hashlib.sha256(b"dexpy-login-state\x00" + material).digest()

