"""Scope rules (Dex `server/tokens/scopes.go`): pure functions of the request and the clients involved."""

from __future__ import annotations

import re
from collections.abc import Callable

from authlib.oauth2.rfc6749.errors import InvalidScopeError

from dexpy.model import Client

OPENID = "openid"
OFFLINE_ACCESS = "offline_access"
GROUPS = "groups"
EMAIL = "email"
PROFILE = "profile"
FEDERATED_ID = "federated:id"
CROSS_CLIENT_PREFIX = "audience:server:client_id:"
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
"""RFC 6749 §3.3 `scope-token`; it is also what an error description may echo back."""
STANDARD_SCOPES = frozenset({OPENID, OFFLINE_ACCESS, GROUPS, EMAIL, PROFILE, FEDERATED_ID})
SCOPE_DESCRIPTIONS = {
    OFFLINE_ACCESS: "Have offline access",
    PROFILE: "View basic profile information",
    EMAIL: "View your email address",
    GROUPS: "View your groups",
}


def split_scopes(raw: str | None) -> list[str]:
    """Space-separated scope words, duplicates dropped, order kept."""
    return list(dict.fromkeys((raw or "").split()))


def peers_of(scopes: list[str]) -> list[str]:
    """The client ids named by cross-client scopes."""
    return [s[len(CROSS_CLIENT_PREFIX):] for s in scopes if s.startswith(CROSS_CLIENT_PREFIX)]


def check_requested_scopes(scopes: list[str], client_id: str, get_client: Callable[[str], Client | None],
                           *, require_openid: bool = True) -> None:
    """Raise InvalidScopeError when a scope is unknown, openid is missing, or a cross-client peer does not
    trust the requesting client."""
    if any(not SCOPE_TOKEN.fullmatch(s) for s in scopes):
        raise InvalidScopeError("Scopes are printable ASCII words without quotes or backslashes (RFC 6749 section 3.3).")
    if require_openid and OPENID not in scopes:
        raise InvalidScopeError("Missing required scope(s) [openid].")
    unknown = [s for s in scopes if s not in STANDARD_SCOPES and not s.startswith(CROSS_CLIENT_PREFIX)]
    if unknown:
        raise InvalidScopeError(f"Unrecognized scope(s) {unknown}")
    untrusted = [
        f"{CROSS_CLIENT_PREFIX}{peer}"
        for peer in peers_of(scopes)
        if peer != client_id and not _trusts(get_client(peer), client_id)
    ]
    if untrusted:
        raise InvalidScopeError(f"Client can't request scope(s) {untrusted}")


def _trusts(peer: Client | None, client_id: str) -> bool:
    return peer is not None and client_id in peer.trusted_peers


def audience(scopes: list[str], client_id: str) -> list[str]:
    """`aud` of tokens for these scopes: the cross-client peers, plus the requesting client."""
    peers = peers_of(scopes)
    if not peers:
        return [client_id]
    return peers if client_id in peers else [*peers, client_id]
