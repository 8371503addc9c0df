"""One replica of the controller: it reconciles only while it holds the shared Lease."""

from __future__ import annotations

from dataclasses import dataclass

from dexpy.upgrade.controller import Controller
from dexpy.upgrade.lease import LeaderElector

RETRY_SECONDS = 2.0  # a follower's wait before it asks for the Lease again


@dataclass
class Replica:
    elector: LeaderElector
    controller: Controller

    def turn(self) -> float:
        """Renew or take the Lease and run one pass, or do nothing as a follower; returns the wait until the next turn."""
        if not self.elector.try_acquire():
            return RETRY_SECONDS
        return self.controller.reconcile()
