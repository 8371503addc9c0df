"""Kubernetes release versions (`1.31.4`, optionally written `v1.31.4`) and the skew rule between them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)([-+][0-9A-Za-z.+-]*)?$")
"""major.minor.patch, and the semver pre-release or build suffix a cluster may report (`v1.31.0+k3s1`,
`v1.31.0-eks-1234`), which only `observed` accepts."""


class InvalidVersion(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: object) -> Version:
        found = _match(text)
        if found is None or found[1]:
            raise InvalidVersion(f"{text!r} is not a version like 1.31.4")
        return found[0]

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def kubelet(self) -> str:
        """How a Node reports it in `status.nodeInfo.kubeletVersion`."""
        return f"v{self}"


def parse_or_none(text: object) -> Version | None:
    try:
        return Version.parse(text)
    except InvalidVersion:
        return None


def observed(text: object) -> Version | None:
    """A version read from the cluster (a Node's kubelet, an image tag): the suffix is dropped, only
    major.minor.patch is compared. Versions in specs and Releases stay strict (`Version.parse`)."""
    found = _match(text)
    return found[0] if found else None


def _match(text: object) -> tuple[Version, str] | None:
    """The version `text` starts with and the suffix after it, if it is a version at all."""
    match = _VERSION.match(text) if isinstance(text, str) else None
    return (Version(int(match[1]), int(match[2]), int(match[3])), match[4] or "") if match else None


def within_skew(current: Version, target: Version) -> bool:
    """The version-skew policy allows one minor at a time, up or down, never across majors."""
    return current.major == target.major and abs(target.minor - current.minor) <= 1
