"""Signing keys: rotation, retired keys kept until their tokens expire, one rotation across replicas."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from dexpy.clock import FrozenClock
from dexpy.model import KEYS_KEY, Claims, Keys
from dexpy.oidc.keys import KeyManager
from dexpy.oidc.tokens import InvalidToken, Subject, TokenIssuer
from dexpy.storage.memory import MemoryStorage

PERIOD, TTL = timedelta(hours=6), timedelta(hours=24)
SUBJECT = Subject(claims=Claims(user_id="u1", email="u@example.com"), connector_id="local", scopes=["openid"],
                  client_id="app")


def _manager(storage, clock, algorithm="RS256"):
    return KeyManager(storage, clock, rotation_period=PERIOD, id_token_ttl=TTL, algorithm=algorithm)


def test_rotation_keeps_the_retired_key_until_its_tokens_expire():
    storage, clock = MemoryStorage(), FrozenClock()
    keys = _manager(storage, clock)
    issuer = TokenIssuer("https://issuer", keys, clock, TTL)
    old_token = issuer.id_token(SUBJECT)
    old_kid = keys.current.kid
    clock.advance(PERIOD + timedelta(seconds=1))
    assert keys.current.kid != old_kid
    assert issuer.verify(old_token)["sub"]  # still verifiable with the retired key
    assert old_kid in keys.current.jwks_json.decode()
    clock.advance(TTL)  # the retired key's tokens have all expired; the next rotation drops it
    keys.refresh()
    assert old_kid not in keys.current.jwks_json.decode()


def test_replicas_sharing_a_store_rotate_exactly_once():
    storage, clock = MemoryStorage(), FrozenClock()
    replicas = [_manager(storage, clock) for _ in range(4)]
    replicas[0].refresh()
    clock.advance(PERIOD + timedelta(seconds=1))
    barrier = threading.Barrier(len(replicas))

    def rotate(manager):
        barrier.wait()
        manager.refresh()

    threads = [threading.Thread(target=rotate, args=(m,)) for m in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kids = {m.current.kid for m in replicas}
    assert len(kids) == 1
    stored = storage.get(Keys, KEYS_KEY)
    assert len(stored.verification_keys) == 1  # one demotion, not four


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_signed_tokens_are_compact_jws_that_joserfc_and_cryptography_verify(algorithm):
    """dexpy signs without joserfc (dexpy.oidc.jws); what it signs must still be a JWS any library accepts."""
    keys = _manager(MemoryStorage(), FrozenClock(), algorithm)
    issuer = TokenIssuer("https://issuer", keys, FrozenClock(), TTL)
    token = issuer.id_token(SUBJECT)
    decoded = jwt.decode(token, keys.current.verify_keys, algorithms=[algorithm])
    assert decoded.header == {"alg": algorithm, "kid": keys.current.kid, "typ": "JWT"}
    assert decoded.claims["sub"] and decoded.claims["iss"] == "https://issuer"
    signing_input, _, signature = token.rpartition(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    public = json.loads(keys.current.jwks_json)["keys"][0]
    if algorithm == "RS256":
        assert len(raw) == 256
        RSAKey.import_key(public).public_key.verify(raw, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:  # r || s, not DER (RFC 7518 §3.4)
        assert len(raw) == 64
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        ECKey.import_key(public).public_key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    tampered = token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    with pytest.raises(InvalidToken):
        issuer.verify(tampered)


def test_tokens_with_alg_none_or_foreign_keys_are_refused():
    storage, clock = MemoryStorage(), FrozenClock()
    issuer = TokenIssuer("https://issuer", _manager(storage, clock), clock, TTL)
    forged = issuer.id_token(SUBJECT).split(".")
    import base64
    import json

    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).decode().rstrip("=")
    for token in (f"{header}.{forged[1]}.", "not.a.jwt",
                  TokenIssuer("https://issuer", _manager(MemoryStorage(), clock), clock, TTL).id_token(SUBJECT)):
        try:
            issuer.verify(token)
        except InvalidToken:
            continue
        raise AssertionError(f"accepted {token[:20]}")


def test_expired_token_is_refused():
    storage, clock = MemoryStorage(), FrozenClock()
    issuer = TokenIssuer("https://issuer", _manager(storage, clock), clock, TTL)
    token = issuer.id_token(SUBJECT)
    clock.advance(TTL + timedelta(seconds=1))
    try:
        issuer.verify(token)
    except InvalidToken as exc:
        assert "expired" in str(exc)
    else:
        raise AssertionError("expired token accepted")
