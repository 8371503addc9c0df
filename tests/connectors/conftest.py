from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dexpy.connectors.base import build_connector
from dexpy.connectors.ldap import LDAPConnector
from tests.fixtures.slapd import ADMIN_DN, ADMIN_PW, GROUPS, PEOPLE, Slapd, running_slapd

MakeLDAP = Callable[..., LDAPConnector]


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    with running_slapd(Path(tmp_path_factory.mktemp("slapd")) / "run") as server:
        yield server


def dex_example_config(slapd: Slapd) -> dict[str, Any]:
    """Dex's examples/ldap/config-ldap.yaml connector config, pointed at the fixture."""
    return {
        "host": slapd.ldap_host, "insecureNoSSL": True,
        "bindDN": ADMIN_DN, "bindPW": ADMIN_PW, "usernamePrompt": "Email Address",
        "userSearch": {"baseDN": PEOPLE, "filter": "(objectClass=person)", "username": "mail",
                       "idAttr": "DN", "emailAttr": "mail", "nameAttr": "cn"},
        "groupSearch": {"baseDN": GROUPS, "filter": "(objectClass=groupOfNames)",
                        "userMatchers": [{"userAttr": "DN", "groupAttr": "member"}], "nameAttr": "cn"},
        "connectTimeout": "1s", "timeout": "1s",
    }


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` applied; nested mappings merge, a None value removes the key."""
    out = copy.deepcopy(base)
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merged(out[k], v)
        else:
            out[k] = v
    return out


@contextmanager
def ldap_maker(slapd: Slapd) -> Iterator[MakeLDAP]:
    """Builds connectors from Dex's example config for `slapd` plus changes, through the registry; closes them
    after."""
    built: list[LDAPConnector] = []

    def make(**changes: Any) -> LDAPConnector:
        connector = build_connector("ldap", merged(dex_example_config(slapd), changes))
        assert isinstance(connector, LDAPConnector)
        built.append(connector)
        return connector

    yield make
    for connector in built:
        connector.close()


@pytest.fixture
def make_ldap(slapd: Slapd) -> Iterator[MakeLDAP]:
    with ldap_maker(slapd) as make:
        yield make
