"""Refusals: bad input that the controller reports in a condition and acts on by patching nothing."""

from __future__ import annotations


class Refused(Exception):
    reason = "Refused"


class UnknownVersion(Refused):
    reason = "VersionNotFound"


class ReleaseBlocked(Refused):
    reason = "ReleaseBlocked"


class NotReachable(Refused):
    reason = "NotReachable"


class VersionSkew(Refused):
    reason = "VersionSkew"


class NoChannel(Refused):
    reason = "NoChannel"


class MalformedRelease(Refused):
    reason = "MalformedRelease"


class ComponentNotFound(Refused):
    reason = "ComponentNotFound"


class InvalidSpec(Refused):
    reason = "InvalidSpec"
