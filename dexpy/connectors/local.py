"""The built-in password database (`enablePasswordDB`): bcrypt hashes in `Password` records."""

from __future__ import annotations

import bcrypt

from dexpy.connectors.base import Identity, IdentityGone, Scopes
from dexpy.loopwork import waits
from dexpy.model import Password
from dexpy.storage import NotFound, Storage

LOCAL_CONNECTOR_TYPE = "local"

# Checked when the user does not exist, so an unknown email costs the same bcrypt time as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"dexpy-no-such-user", bcrypt.gensalt(10))
_checkpw = waits(bcrypt.checkpw)
"""bcrypt takes ~50-250 ms of CPU (without the GIL): off the event loop, which serves other requests meanwhile."""


class LocalConnector:
    prompt = "Email Address"

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def login(self, scopes: Scopes, username: str, password: str) -> Identity | None:
        try:
            record = self._storage.get(Password, username.strip().lower())
        except NotFound:
            _checkpw(password.encode(), _DUMMY_HASH)
            return None
        matches = _checkpw(password.encode(), record.hash)  # even for an empty password: as slow as a miss
        if not password or not matches:
            return None
        return _identity(record)

    def refresh(self, scopes: Scopes, identity: Identity) -> Identity:
        """Re-read the entry: a deleted (or re-created) user can no longer refresh; changed names and groups
        show up."""
        try:
            record = self._storage.get(Password, identity.email.lower())
        except NotFound:
            raise IdentityGone(identity.user_id) from None
        if record.user_id != identity.user_id:
            raise IdentityGone(identity.user_id)
        return _identity(record)


def _identity(record: Password) -> Identity:
    return Identity(
        user_id=record.user_id,
        username=record.username,
        preferred_username=record.preferred_username,
        email=record.email,
        email_verified=record.email_verified,
        groups=list(record.groups),
    )
