"""The user's OfflineSessions as an index of their refresh tokens (Dex #981: several per user and client).

`tokens` (dexpy-only) holds every live token of the user on a connector, keyed by refresh ID; `refresh` keeps
Dex's view, the newest token of each client, so a Dex reading the same storage still finds one per client.
A user keeps at most `MAX_REFRESH_PER_USER` tokens per connector; linking one more drops the oldest.
"""

from __future__ import annotations

from dataclasses import replace

from dexpy.model import OfflineSessions, RefreshToken, RefreshTokenRef, offline_session_key
from dexpy.storage import AlreadyExists, NotFound, Storage

MAX_REFRESH_PER_USER = 10
"""Live refresh tokens per (user, connector): enough for every device a person uses, small enough that a
script logging in in a loop cannot grow one OfflineSessions object without bound."""


def _newest_per_client(refs: dict[str, RefreshTokenRef]) -> dict[str, RefreshTokenRef]:
    newest: dict[str, RefreshTokenRef] = {}
    for ref in sorted(refs.values(), key=lambda r: r.created_at):
        newest[ref.client_id] = ref
    return newest


def _with_refs(sessions: OfflineSessions, refs: dict[str, RefreshTokenRef]) -> OfflineSessions:
    return replace(sessions, tokens=refs, refresh=_newest_per_client(refs))


def link(storage: Storage, record: RefreshToken, connector_data: bytes) -> list[str]:
    """Add `record` to its user's index; return the IDs of the oldest tokens dropped to stay under the cap."""
    ref = RefreshTokenRef(id=record.id, client_id=record.client_id, created_at=record.created_at,
                          last_used=record.last_used)
    dropped: list[str] = []

    def add(current: OfflineSessions) -> OfflineSessions:
        refs = {**current.all_refs(), ref.id: ref}
        oldest = sorted((r for r in refs.values() if r.id != ref.id), key=lambda r: r.created_at)
        dropped[:] = [r.id for r in oldest[: max(0, len(refs) - MAX_REFRESH_PER_USER)]]
        kept = {i: r for i, r in refs.items() if i not in dropped}
        return replace(_with_refs(current, kept), connector_data=connector_data or current.connector_data)

    key = offline_session_key(record.claims.user_id, record.connector_id)
    try:
        storage.update(OfflineSessions, key, add)
    except NotFound:
        try:
            storage.create(_with_refs(OfflineSessions(user_id=record.claims.user_id, conn_id=record.connector_id,
                                                      connector_data=connector_data), {ref.id: ref}))
        except AlreadyExists:
            return link(storage, record, connector_data)
    return dropped


def unlink(storage: Storage, record: RefreshToken) -> None:
    """Remove `record` from its user's index (the client's newest becomes its next newest, if any)."""

    def remove(current: OfflineSessions) -> OfflineSessions:
        return _with_refs(current, {i: r for i, r in current.all_refs().items() if i != record.id})

    try:
        storage.update(OfflineSessions, offline_session_key(record.claims.user_id, record.connector_id), remove)
    except NotFound:
        pass


def live_tokens(storage: Storage, user_id: str, connector_id: str) -> list[RefreshToken]:
    """The user's refresh tokens on a connector that still exist, oldest first."""
    try:
        sessions = storage.get(OfflineSessions, offline_session_key(user_id, connector_id))
    except NotFound:
        return []
    records = []
    for refresh_id in sessions.all_refs():
        try:
            records.append(storage.get(RefreshToken, refresh_id))
        except NotFound:
            continue
    return sorted(records, key=lambda r: r.created_at)
