"""The expiry sweeper: deletes what has expired, every interval, in a daemon thread.

Beyond the backend's `garbage_collect`, it deletes refresh tokens past `expiry.refreshTokens` lifetimes (Dex
only refuses them when presented; deleting them keeps a store of abandoned tokens from growing forever) and
removes their references from the user's OfflineSessions.

It also deletes orphaned refresh tokens: those no OfflineSessions links, older than `ORPHAN_GRACE`. A login
creates the token and then links it; when the storage fails in between (or a create succeeds on the API but its
answer is lost) the client never gets the token and the login deletes it at once if it can, but during an outage
it cannot. Nobody holds such a token, so deleting it loses nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import datetime, timedelta

from dexpy.clock import Clock, system_clock
from dexpy.config import RefreshTokenExpiry
from dexpy.model import OfflineSessions, RefreshToken, offline_session_key
from dexpy.storage import NotFound, Storage, Unavailable

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = timedelta(minutes=5)
"""Dex's fixed garbage collection period."""

ORPHAN_GRACE = timedelta(minutes=10)
"""How long an unlinked refresh token is left alone: far longer than a login takes to link the token it created."""


def refresh_token_expired(token: RefreshToken, policy: RefreshTokenExpiry, now: datetime) -> bool:
    """Past `absoluteLifetime` since creation or `validIfNotUsedFor` since last use; a zero lifetime never ends."""
    absolute, idle = policy.absolute_lifetime, policy.valid_if_not_used_for
    return bool(absolute and token.created_at + absolute < now) or bool(idle and token.last_used + idle < now)


class GarbageCollector:
    def __init__(
        self,
        storage: Storage,
        clock: Clock = system_clock,
        interval: timedelta = DEFAULT_INTERVAL,
        refresh_policy: RefreshTokenExpiry | None = None,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._interval = interval
        self._refresh_policy = refresh_policy or RefreshTokenExpiry()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep_once(self) -> dict[str, int]:
        """Delete everything expired now; the counts by kind. A backend that is unavailable is logged, not raised."""
        now = self._clock()
        counts: dict[str, int] = {}
        try:
            counts.update(self._storage.garbage_collect(now))
            counts[RefreshToken.KIND] = self._sweep_refresh_tokens(now)
        except Unavailable as err:
            log.warning("garbage collection stopped early, storage unavailable: %s", err)
        deleted = {kind: n for kind, n in sorted(counts.items()) if n}
        if deleted:
            log.info("garbage collection deleted %s", ", ".join(f"{kind}={n}" for kind, n in deleted.items()))
        return counts

    def _sweep_refresh_tokens(self, now: datetime) -> int:
        # The links are read before the tokens: a token created after this read is younger than the grace.
        linked = {ref_id for sessions in self._storage.list(OfflineSessions) for ref_id in sessions.all_refs()}
        deleted = 0
        for token in self._storage.list(RefreshToken):
            orphaned = token.id not in linked and token.created_at + ORPHAN_GRACE < now
            if orphaned or refresh_token_expired(token, self._refresh_policy, now):
                deleted += self._delete_refresh_token(token)
        return deleted

    def _delete_refresh_token(self, token: RefreshToken) -> int:
        try:
            self._storage.delete(RefreshToken, token.id)
        except NotFound:  # deleted meanwhile by a refresh or a revocation
            return 0
        key = offline_session_key(token.claims.user_id, token.connector_id)
        try:
            sessions = self._storage.get(OfflineSessions, key)
            if token.id in sessions.all_refs():
                self._storage.update(OfflineSessions, key, lambda s: _without_ref(s, token.id))
        except NotFound:
            pass
        return 1

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("garbage collector already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="dexpy-gc", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self._interval.total_seconds()):
            try:
                self.sweep_once()
            except Exception:  # the sweeper must outlive any one bad pass
                log.exception("garbage collection failed")


def _without_ref(sessions: OfflineSessions, refresh_id: str) -> OfflineSessions:
    refs = {client: ref for client, ref in sessions.refresh.items() if ref.id != refresh_id}
    tokens = {key: ref for key, ref in sessions.tokens.items() if key != refresh_id}
    return dataclasses.replace(sessions, refresh=refs, tokens=tokens)
