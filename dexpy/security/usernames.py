"""The typed user name, as the lockout counts it and as logs may show it.

A failed login's name is whatever was typed, often a password typed one field too early, so it is never
stored or logged as typed: the lockout counter and the audit line of a failure carry `user_ref(name)`, a short
SHA-256 of the canonical spelling. The same name gives the same reference on every replica, so repeated
failures for one account can be followed; `dexpy user-ref NAME` computes the reference of a name to look for.
"""

from __future__ import annotations

import hashlib
import unicodedata


def canonical_username(username: str) -> str:
    """One spelling for the names a directory takes as the same (case, width, spaces, control characters), so
    that varying them does not buy an attacker fresh guesses."""
    name = unicodedata.normalize("NFKC", username)
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf"))
    return " ".join(name.split()).casefold()


def user_ref(username: str) -> str:
    """`sha256:` and 20 hex digits (80 bits) of the canonical name: enough to tell accounts apart, not a
    record of what was typed. Unkeyed, so a guessable string (a weak password typed as the name) can be
    recovered by hashing guesses: it keeps the typed text out of plain sight, not from a determined reader."""
    return "sha256:" + hashlib.sha256(canonical_username(username).encode()).hexdigest()[:20]
