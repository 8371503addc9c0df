"""Which Releases a cluster may move to: an in-cluster update graph in the manner of Cincinnati.

An edge exists from the current version to a Release only when the Release names it in `previous`, so no
version is skipped; a Release that is blocked, off the channel, or more than one minor away is never offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from dexpy.upgrade import errors
from dexpy.upgrade.resources import Release
from dexpy.upgrade.versions import Version, within_skew


@dataclass(frozen=True)
class Target:
    version: Version
    images: Mapping[str, str]


def available_updates(releases: Iterable[Release], channel: str, current: Version) -> list[Release]:
    """Newest first."""
    reachable = [
        release
        for release in releases
        if channel in release.channels
        and not release.blocked
        and release.version > current
        and current in release.previous
        and within_skew(current, release.version)
    ]
    return sorted(reachable, key=lambda release: release.version, reverse=True)


def check_channel(releases: Iterable[Release], channel: str) -> None:
    if not any(channel in release.channels for release in releases):
        raise errors.NoChannel(f"no Release lists channel {channel!r}")


def choose_target(
    *,
    releases: Sequence[Release],
    channel: str,
    current: Version,
    desired: Version | None,
    automatic: bool,
    previous: Version | None,
    saved_images: Mapping[str, str],
    components: Iterable[str],
) -> Target | None:
    """The version to converge on, or None when there is nothing to do.

    `previous` is the version the last attempt started from: the only allowed downgrade (manual rollback).
    `saved_images` are the images recorded before this attempt patched anything, used to go back to a
    version that has no Release object.
    """
    names = list(components)
    if desired is None:
        if not automatic:
            return None
        check_channel(releases, channel)
        offered = available_updates(releases, channel, current)
        return _target(offered[0], names) if offered else None
    release = next((r for r in releases if r.version == desired), None)
    if desired <= current:
        if desired < current and desired != previous:
            raise errors.NotReachable(f"{desired} is lower than {current} and not the version it came from")
        if release is not None:
            return _target(release, names)
        if saved_images and desired == previous:
            return Target(desired, dict(saved_images))
        return None if desired == current else _unknown(desired)
    if release is None:
        return _unknown(desired)
    if release.blocked:
        raise errors.ReleaseBlocked(f"release {desired} is blocked: {release.blocked_reason or 'no reason given'}")
    if not within_skew(current, desired):
        raise errors.VersionSkew(f"{current} to {desired} skips a minor version; go one minor at a time")
    if channel not in release.channels:
        raise errors.NotReachable(f"release {desired} is not in channel {channel!r}")
    if current not in release.previous:
        choices = ", ".join(str(r.version) for r in available_updates(releases, channel, current)) or "none"
        raise errors.NotReachable(f"release {desired} cannot be reached from {current} (available: {choices})")
    return _target(release, names)


def _unknown(version: Version) -> NoReturn:
    raise errors.UnknownVersion(f"no Release for version {version}")


def _target(release: Release, components: list[str]) -> Target:
    missing = [name for name in components if name not in release.images]
    if missing:
        raise errors.MalformedRelease(f"release {release.version} has no image for {', '.join(missing)}")
    return Target(release.version, dict(release.images))
