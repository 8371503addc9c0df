"""One replica of the controller: it reconciles only while it holds the shared Lease."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dexpy.upgrade.controller import Controller
from dexpy.upgrade.kube import ApiError
from dexpy.upgrade.lease import LeaderElector

RETRY_SECONDS = 2.0  # a follower's wait before it asks for the Lease again
BACKOFF_CAP = 60.0

log = logging.getLogger(__name__)


@dataclass
class Replica:
    elector: LeaderElector
    controller: Controller
    failures: int = 0  # turns in a row that an API error cut short

    def turn(self) -> float:
        """Renew or take the Lease and run one pass, or do nothing as a follower; returns the wait until the next turn.

        An API error (5xx, 403, no connection) ends the turn with one log line and a doubling wait. A replica
        that could not renew the Lease does not reconcile: it acts again only after a renewal succeeds.
        """
        try:
            delay = self.controller.reconcile() if self.elector.try_acquire() else RETRY_SECONDS
        except ApiError as exc:
            self.failures += 1
            wait = min(BACKOFF_CAP, RETRY_SECONDS * 2 ** (self.failures - 1))
            log.warning("Kubernetes API error (%d in a row), next try in %.0fs: %s", self.failures, wait, exc)
            return wait
        if self.failures:
            log.info("Kubernetes API answers again after %d failed turns", self.failures)
            self.failures = 0
        return delay
