"""LDAP search filters built from untrusted values (RFC 4515).

Every value is escaped exactly once: `\\ * ( )` and NUL become `\\XX`. Other characters, non-ASCII included,
go as they are (the filter is sent as UTF-8, which RFC 4515 allows), so `zoë` matches `zoë`.
"""

from __future__ import annotations

_SPECIAL = {"\\": r"\5c", "*": r"\2a", "(": r"\28", ")": r"\29", "\x00": r"\00"}


def escape(value: str) -> str:
    return "".join(_SPECIAL.get(char, char) for char in value)


def equals(attr: str, value: str) -> str:
    return f"({attr}={escape(value)})"


def any_equals(attrs: list[str], value: str) -> str:
    """`(a=v)` for one attribute, `(|(a=v)(b=v))` for several."""
    terms = "".join(equals(attr, value) for attr in attrs)
    return terms if len(attrs) == 1 else f"(|{terms})"


def both(extra: str, term: str) -> str:
    """AND a configured filter (possibly empty) with a term, as Dex does."""
    return f"(&{extra}{term})" if extra else term
