"""One replica of the controller: it reconciles only while it holds the shared Lease."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from dexpy.clock import Clock, system_clock
from dexpy.upgrade.controller import Controller
from dexpy.upgrade.kube import ApiError, NotLeader
from dexpy.upgrade.lease import LeaderElector

RETRY_SECONDS = 2.0  # a follower's wait before it asks for the Lease again
RENEW_SECONDS = 4.0  # a leader's longest wait between renewals, well inside the 15 s Lease
BACKOFF_CAP = 60.0

log = logging.getLogger(__name__)


@dataclass
class Replica:
    elector: LeaderElector
    controller: Controller
    clock: Clock = system_clock
    failures: int = 0  # turns in a row that an error cut short
    due: datetime | None = None  # when the next pass is due; None: on the next turn as leader

    def turn(self) -> float:
        """Renew or take the Lease, and run a pass if the last one's delay is over; returns how long to sleep.

        The Lease is renewed every turn, at most RENEW_SECONDS apart, but an idle leader reconciles only as often
        as its pass asked (a minute), not on every renewal. A new leader, or one after a failed turn, reconciles
        at once.

        A leader's wait is short enough to keep its Lease, and its controller's client (`kube.guarded` with the
        elector's `time_left`) refuses every write of a pass that outlasts the Lease, which ends the pass here.
        An API error (5xx, 403, no connection) ends the turn with one log line and a doubling wait; a replica that
        could not renew the Lease does not reconcile. Any other exception (a bug, or input no check foresaw) is
        handled the same way, with its traceback in the warning if it is the first failure of a streak, so the
        process keeps running instead of crash-looping. A backing-off replica does not renew the Lease: once its
        wait outlasts the Lease (15 s) another replica may take over, and this one is a follower when it next asks.
        """
        try:
            delay = self._lead() if self.elector.try_acquire() else self._follow()
        except NotLeader as exc:
            self.due = None
            log.warning("%s; its remaining writes were not made", exc)
            return RETRY_SECONDS
        except ApiError as exc:
            return self._back_off("Kubernetes API error", exc)
        except Exception as exc:
            return self._back_off(f"unexpected {type(exc).__name__}", exc, traceback=True)
        if self.failures:
            log.info("reconciling again after %d failed turns", self.failures)
            self.failures = 0
        return delay

    def _lead(self) -> float:
        if self.due is None or self.clock() >= self.due:
            started = self.clock()
            self.due = started + timedelta(seconds=self.controller.reconcile())
        return max(0.0, min((self.due - self.clock()).total_seconds(), RENEW_SECONDS))

    def _follow(self) -> float:
        self.due = None
        return RETRY_SECONDS

    def _back_off(self, what: str, exc: Exception, traceback: bool = False) -> float:
        """One warning line a failed turn; a bug's traceback only with the first of a streak, not every wait."""
        self.failures += 1
        self.due = None
        wait = min(BACKOFF_CAP, RETRY_SECONDS * 2 ** (self.failures - 1))
        log.warning("%s (%d in a row), next try in %.0fs: %s", what, self.failures, wait, exc,
                    exc_info=True if traceback and self.failures == 1 else None)
        return wait
