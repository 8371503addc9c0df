"""One replica of the controller: it reconciles only while it holds the shared Lease."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dexpy.upgrade.controller import Controller
from dexpy.upgrade.kube import ApiError, NotLeader
from dexpy.upgrade.lease import LeaderElector

RETRY_SECONDS = 2.0  # a follower's wait before it asks for the Lease again
RENEW_SECONDS = 4.0  # a leader's longest wait, well inside the 15 s Lease, even when its pass says idle
BACKOFF_CAP = 60.0

log = logging.getLogger(__name__)


@dataclass
class Replica:
    elector: LeaderElector
    controller: Controller
    failures: int = 0  # turns in a row that an error cut short

    def turn(self) -> float:
        """Renew or take the Lease and run one pass, or do nothing as a follower; returns how long to sleep.

        A leader's wait is short enough to keep its Lease, and its controller's client (`kube.guarded` with the
        elector's `time_left`) refuses every write of a pass that outlasts the Lease, which ends the pass here.
        An API error (5xx, 403, no connection) ends the turn with one log line and a doubling wait; a replica that
        could not renew the Lease does not reconcile. Any other exception (a bug, or input no check foresaw) is
        handled the same way, with its traceback in the warning if it is the first failure of a streak, so the
        process keeps running instead of crash-looping. A backing-off replica does not renew the Lease: once its
        wait outlasts the Lease (15 s) another replica may take over, and this one is a follower when it next asks.
        """
        try:
            delay = min(self.controller.reconcile(), RENEW_SECONDS) if self.elector.try_acquire() else RETRY_SECONDS
        except NotLeader as exc:
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

    def _back_off(self, what: str, exc: Exception, traceback: bool = False) -> float:
        """One warning line a failed turn; a bug's traceback only with the first of a streak, not every wait."""
        self.failures += 1
        wait = min(BACKOFF_CAP, RETRY_SECONDS * 2 ** (self.failures - 1))
        log.warning("%s (%d in a row), next try in %.0fs: %s", what, self.failures, wait, exc,
                    exc_info=True if traceback and self.failures == 1 else None)
        return wait
