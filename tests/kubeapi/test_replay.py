"""The fake answers the recorded requests like the real kube-apiserver did."""
from __future__ import annotations

import pytest

from tests.fixtures.kubeapi.fixture import KubeAPIFixture, start_fake

from .replay import Replayer, replay, standard_setup
from .seeds import SEEDS

# Exchanges the fake deliberately does not reproduce, with the reason.
KNOWN_GAPS: dict[str, dict[int, str]] = {
    "A01": {9: "no 429 'storage is (re)initializing' on the first LIST after a CRD is established"},
    "A04": {9: "random generateName suffix inside the message", 22: "no duplicate-field Warning"},
    "A05": {13: "status schema errors name the full path in 'in body'"},
    "A07": {24: "compaction", 25: "compaction", 26: "compaction", 27: "compaction", 28: "restart", 29: "restart",
            30: "restart", 31: "restart"},
    "A09": {0: "no SelfSubjectReview", 20: "no TokenRequest"},
    "B13": {7: "eviction adds no DisruptionTarget condition", 19: "PDB conditions are not rewritten on eviction",
            20: "no 'does not allow evicting pods currently' message", 21: "eviction adds no DisruptionTarget condition",
            36: "eviction adds no DisruptionTarget condition", 37: "no spec diff after the forbidden-update message"},
    "B14": {9: "a non-RFC3339 time in a patch: 422 embedding the patched object"},
    "B15": {2: "random generateName suffix inside the message", 3: "random generateName suffix inside the message",
            4: "random generateName suffix inside the message", 7: "no deprecatedSource: {}",
            8: "events.k8s.io Invalid names the group", 10: "no conversion between core/v1 and events.k8s.io fields",
            11: "no conversion between core/v1 and events.k8s.io fields", 12: "events.k8s.io event not listed via core/v1",
            13: "no conversion between core/v1 and events.k8s.io fields"},
    "B16": {6: "no 'cannot disable the SuccessCriteriaMet=True condition' cause",
            7: "immutable template printed as the Go internal struct"},
}
# Watches run with these timeoutSeconds instead of the recorded 3-15 s (index → seconds); 6 keeps its bookmark.
WATCH_SECONDS: dict[str, dict[int, int]] = {"A07": {6: 3, 7: 1, 8: 1, 9: 3, 15: 1, 18: 1, 19: 1, 20: 1}}
FILES = ["A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A09", "B10", "B11", "B12", "B13", "B14", "B15", "B16"]


@pytest.fixture(scope="module")
def shared() -> tuple[KubeAPIFixture, Replayer]:
    """The A files build on each other (CRDs of A01, objects of A02...), as in the recording pass."""
    fake = start_fake()
    yield fake, standard_setup(fake)
    fake.stop()


@pytest.mark.parametrize("name", FILES)
def test_recorded_exchanges(shared: tuple[KubeAPIFixture, Replayer], name: str) -> None:
    fake, replayer = shared
    problems = replay(fake, name, KNOWN_GAPS.get(name, {}), replayer, SEEDS.get(name, {}), WATCH_SECONDS.get(name))
    assert not problems, "\n".join(problems)
