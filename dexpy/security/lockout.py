"""Brute-force lockout: failure counters kept in the store (shared by every replica), exponential backoff.

    attempt = lockout.begin([user_target(connector_id, user_ref(username)), ip_target(ip)])
    ok = check_password()               # always run, locked or not: the answer takes the same time
    if not attempt.finish(ok):          # False while any target is locked, even for the right password
        refuse()

Only failures write (one counter per target); a success deletes the user's or client's counter if it has
one, never the IP's (one valid account must not reset an attacker's IP). While locked, attempts are not
counted and their result is thrown away. After `maxFailures` failures a target is locked for `duration`;
each further failure, once that lockout is over, doubles it up to `maxDuration`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dexpy.clock import Clock
from dexpy.config import LockoutConfig
from dexpy.model import FailureCounter
from dexpy.storage import AlreadyExists, NotFound, Storage
from dexpy.telemetry import count_lockout

log = logging.getLogger(__name__)

_LONGEST_CLIENT_ID = 256


@dataclass(frozen=True)
class Target:
    """One thing failures are counted for."""

    key: str
    label: str
    """The `dexpy_lockouts_total` label: the connector id, `client_secret` or `client_ip`."""
    per_ip: bool = False


def user_target(connector_id: str, ref: str) -> Target:
    """The typed name's counter, keyed by its reference (`user_ref`): what was typed is neither stored nor logged."""
    return Target(f"user:{connector_id}:{ref}", connector_id)


def client_target(client_id: str) -> Target:
    return Target(f"client:{client_id[:_LONGEST_CLIENT_ID]}", "client_secret")


def ip_target(address: str) -> Target:
    return Target(f"ip:{address}", "client_ip", per_ip=True)


class Lockout:
    def __init__(self, storage: Storage, clock: Clock, config: LockoutConfig) -> None:
        self.storage = storage
        self.clock = clock
        self.config = config

    def begin(self, targets: Sequence[Target]) -> Attempt:
        """Read the targets' counters (no write) before the credentials are checked."""
        if not self.config.enabled:
            return Attempt(self, [], {}, locked=False)
        now = self.clock()
        stored = self.storage.get_many(FailureCounter, [t.key for t in targets])  # one read for all targets
        counters = {key: c for key, c in stored.items() if c.expiry > now}
        locked = any(c.locked_until > now for c in counters.values())
        return Attempt(self, list(targets), counters, locked)

    def _threshold(self, target: Target) -> int:
        return self.config.ip_max_failures if target.per_ip else self.config.max_failures

    def record_failure(self, target: Target) -> None:
        now = self.clock()
        threshold = self._threshold(target)

        def count(counter: FailureCounter) -> FailureCounter:
            failures = 1 if counter.expiry <= now else counter.failures + 1
            locked_until = counter.locked_until
            if failures >= threshold:
                backoff = self.config.duration * 2 ** min(failures - threshold, 30)
                locked_until = now + min(backoff, self.config.max_duration)
            return replace(counter, failures=failures, last_failure=now, locked_until=locked_until,
                           expiry=max(now, locked_until) + self.config.failure_window)

        fresh = FailureCounter(id=target.key, failures=0, last_failure=now, expiry=now)
        try:
            counter = self.storage.update(FailureCounter, target.key, count)
        except NotFound:
            try:
                counter = count(fresh)
                self.storage.create(counter)
            except AlreadyExists:  # another replica counted the first failure meanwhile
                counter = self.storage.update(FailureCounter, target.key, count)
        if counter.locked_until > now:
            count_lockout(target.label)
            log.warning("locked out after repeated failures", extra={
                "lockout_subject": target.key, "lockout_label": target.label,
                "failures": counter.failures, "locked_until": counter.locked_until.isoformat()})

    def forget(self, target: Target) -> None:
        try:
            self.storage.delete(FailureCounter, target.key)
        except NotFound:
            pass


@dataclass
class Attempt:
    lockout: Lockout
    targets: list[Target]
    counters: dict[str, FailureCounter]
    locked: bool

    def finish(self, ok: bool) -> bool:
        """Count the outcome; whether the attempt succeeds (never while locked)."""
        if self.locked:
            return False
        if not ok:
            for target in self.targets:
                self.lockout.record_failure(target)
            return False
        for target in self.targets:
            if not target.per_ip and target.key in self.counters:
                self.lockout.forget(target)
        return True
