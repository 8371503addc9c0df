"""The one error the kubectl side raises on bad input: its message is the one line the user sees on stderr."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can act on (bad issuer, bad CA, denied login, unreadable kubeconfig…); never a bug."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
