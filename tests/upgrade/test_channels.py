from __future__ import annotations

import pytest

from dexpy.upgrade import errors
from dexpy.upgrade.channels import available_updates, choose_target
from dexpy.upgrade.resources import DEFAULT_COMPONENTS, InvalidResource, Release
from dexpy.upgrade.versions import Version
from tests.upgrade.builders import images, release

V = Version.parse
NAMES = [c.name for c in DEFAULT_COMPONENTS]


def graph() -> list[Release]:
    objects = [
        release("1.30.2", ["1.30.1"]),
        release("1.30.3", ["1.30.2"], channels=["alpha", "beta"]),
        release("1.30.4", ["1.30.3"], channels=["alpha"]),
        release("1.31.0", ["1.30.2", "1.30.3"], channels=["alpha", "beta", "stable"]),
        release("1.31.1", ["1.31.0"], blocked=True, blockedReason="etcd data loss"),
        release("1.32.0", ["1.30.2", "1.31.1"]),
    ]
    return [Release.from_object(o) for o in objects]


def versions(found: list[Release]) -> list[str]:
    return [str(r.version) for r in found]


def test_stable_offers_only_releases_that_name_the_current_version_and_stay_within_one_minor() -> None:
    # 1.32.0 lists 1.30.2 as previous but is two minors away: the skew policy wins.
    assert versions(available_updates(graph(), "stable", V("1.30.2"))) == ["1.31.0"]


def test_wider_channels_see_more_and_newest_comes_first() -> None:
    assert versions(available_updates(graph(), "beta", V("1.30.2"))) == ["1.31.0", "1.30.3"]
    assert versions(available_updates(graph(), "alpha", V("1.30.3"))) == ["1.31.0", "1.30.4"]


def test_no_skipping_a_version_that_does_not_list_the_current_one() -> None:
    assert versions(available_updates(graph(), "alpha", V("1.30.2"))) == ["1.31.0", "1.30.3"]  # not 1.30.4


def test_blocked_release_is_never_offered_nor_accepted() -> None:
    assert available_updates(graph(), "stable", V("1.31.0")) == []
    with pytest.raises(errors.ReleaseBlocked, match="etcd data loss"):
        pick(desired="1.31.1", current="1.31.0")


def pick(*, desired: str | None, current: str, automatic: bool = False, channel: str = "stable", previous: str | None = None):
    return choose_target(
        releases=graph(),
        channel=channel,
        current=V(current),
        desired=V(desired) if desired else None,
        automatic=automatic,
        previous=V(previous) if previous else None,
        saved_images={},
        components=NAMES,
    )


def test_desired_version_resolves_to_its_release_images() -> None:
    target = pick(desired="1.31.0", current="1.30.2")
    assert target is not None and target.version == V("1.31.0")
    assert target.images == images("1.31.0")


def test_automatic_updates_take_the_newest_available_and_nothing_without_them() -> None:
    assert pick(desired=None, current="1.30.2", automatic=True, channel="beta").version == V("1.31.0")
    assert pick(desired=None, current="1.30.2") is None
    assert pick(desired=None, current="1.31.0", automatic=True) is None


@pytest.mark.parametrize(
    ("desired", "current", "error"),
    [
        ("1.99.0", "1.30.2", errors.UnknownVersion),
        ("1.32.0", "1.30.2", errors.VersionSkew),
        ("1.30.4", "1.30.2", errors.NotReachable),  # does not list 1.30.2
        ("1.30.3", "1.30.2", errors.NotReachable),  # not in the stable channel
        ("1.30.2", "1.31.0", errors.NotReachable),  # downgrade to something that is not where we came from
    ],
)
def test_bad_desired_versions_are_refused_with_their_reason(desired: str, current: str, error: type) -> None:
    with pytest.raises(error):
        pick(desired=desired, current=current)


def test_automatic_on_a_channel_no_release_lists_is_refused() -> None:
    with pytest.raises(errors.NoChannel):
        pick(desired=None, current="1.30.2", automatic=True, channel="fast")


def test_rollback_to_the_version_the_attempt_came_from_is_allowed() -> None:
    assert pick(desired="1.30.2", current="1.31.0", previous="1.30.2").version == V("1.30.2")


def test_rollback_without_a_release_uses_the_images_saved_before_the_update() -> None:
    saved = {"kube-apiserver": "old-apiserver"}
    target = choose_target(
        releases=graph(), channel="stable", current=V("1.30.2"), desired=V("1.30.1"), automatic=False,
        previous=V("1.30.1"), saved_images=saved, components=NAMES,
    )
    assert target is not None and target.images == saved


def test_release_missing_a_component_image_is_malformed() -> None:
    broken = release("1.31.0", ["1.30.2"])
    del broken["spec"]["images"]["kubelet"]
    with pytest.raises(errors.MalformedRelease, match="kubelet"):
        choose_target(
            releases=[Release.from_object(broken)], channel="stable", current=V("1.30.2"), desired=V("1.31.0"),
            automatic=False, previous=None, saved_images={}, components=NAMES,
        )


def test_release_with_a_bad_version_does_not_parse() -> None:
    with pytest.raises(InvalidResource, match="not a version"):
        Release.from_object(release("1.31", []))
