"""Loading Dex-format config files: what a user sees for a good file and for each kind of mistake."""

from __future__ import annotations

import base64
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from dexpy.config import Config, ConfigError, expand_env, load_config, with_overrides

REPO = Path(__file__).resolve().parent.parent
BCRYPT = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"

BASE: dict[str, Any] = {
    "issuer": "http://127.0.0.1:5556/dex",
    "storage": {"type": "memory"},
    "web": {"http": "127.0.0.1:5556"},
    "connectors": [{"type": "mockCallback", "id": "mock", "name": "Example"}],
}


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "dex.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def load(tmp_path: Path, env: dict[str, str] | None = None, **overrides: Any) -> Config:
    """Load BASE with top-level keys replaced (None removes one)."""
    raw = {k: v for k, v in {**BASE, **overrides}.items() if v is not None}
    return load_config(write(tmp_path, yaml.safe_dump(raw)), env=env or {})


def errors(tmp_path: Path, env: dict[str, str] | None = None, **overrides: Any) -> list[str]:
    """The problems reported for BASE with `overrides`, each as `<path>: <message>`, checking the file prefix."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, env, **overrides)
    prefix = f"{tmp_path / 'dex.yaml'}: "
    lines = str(info.value).splitlines()
    assert all(line.startswith(prefix) for line in lines), lines
    return [line.removeprefix(prefix) for line in lines]


# --- whole files ----------------------------------------------------------------------------------------------

def test_the_example_config_loads() -> None:
    config = load_config(str(REPO / "config.example.yaml"), env={})
    assert config.issuer == "http://127.0.0.1:5556/dex"
    assert (config.storage.type, config.storage.config) == ("sqlite3", {"file": "var/dexpy.db"})
    assert (config.web.http, config.telemetry.http) == ("127.0.0.1:5556", "127.0.0.1:5558")
    admin = config.static_passwords[0]
    assert (admin.email, admin.username, admin.hash) == ("admin@example.com", "admin", BCRYPT)
    assert admin.groups == ["team-a", "team-a/admins"]
    assert [(c.type, c.id, c.name) for c in config.connectors] == [("mockCallback", "mock", "Example")]
    app, kubectl = config.static_clients
    assert (app.id, app.secret, app.redirect_uris) == ("example-app", "ZXhhbXBsZS1hcHAtc2VjcmV0",
                                                        ["http://127.0.0.1:5555/callback"])
    assert (kubectl.id, kubectl.public, kubectl.redirect_uris) == ("kubectl", True, [])
    assert config.source.endswith("config.example.yaml")


DEX_CONFIG_DEV = """\
issuer: http://127.0.0.1:5556/dex
storage:
  type: sqlite3
  config:
    file: examples/dex.db
web:
  http: 0.0.0.0:5556
telemetry:
  http: 0.0.0.0:5558
grpc:
  addr: 127.0.0.1:5557
sessions:
  cookieName: dex_session
  absoluteLifetime: 24h
  validIfNotUsedFor: 1h
expiry:
  deviceRequests: "5m"
  signingKeys: "6h"
  idTokens: "24h"
  refreshTokens:
    reuseInterval: "3s"
    validIfNotUsedFor: "2160h"
    absoluteLifetime: "3960h"
logger:
  level: "debug"
  format: "text"
oauth2:
  grantTypes:
  - authorization_code
  - refresh_token
  - client_credentials
  - urn:ietf:params:oauth:grant-type:device_code
  - urn:ietf:params:oauth:grant-type:token-exchange
  - password
  responseTypes: ["code"]
  passwordConnector: local
staticClients:
- id: example-app
  redirectURIs:
  - 'http://127.0.0.1:5555/callback'
  - '/dex/device/callback'
  postLogoutRedirectURIs:
  - 'http://127.0.0.1:5555/'
  backchannelLogoutURI: 'http://127.0.0.1:5555/backchannel-logout'
  name: 'Example App'
  secret: ZXhhbXBsZS1hcHAtc2VjcmV0
connectors:
- type: mockCallback
  id: mock
  name: Example
- type: ldap
  id: ldap
  name: OpenLDAP
  config:
    host: localhost:389
    bindDN: cn=admin,dc=example,dc=org
    bindPW: $LDAP_BIND_PW
    userSearch:
      baseDN: ou=People,dc=example,dc=org
      username: ${LDAP_USERNAME_ATTR}
enablePasswordDB: true
staticPasswords:
- email: "admin@example.com"
  hash: "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W"
  username: "admin"
  name: "Admin User"
  emailVerified: true
  preferredUsername: "admin"
  groups: ["team-a", "team-a/admins"]
  userID: "08a8684b-db88-4b73-90a9-3cd1661f5466"
signer:
  type: local
  config:
    keysRotationPeriod: 6h
    algorithm: RS256
"""


def test_a_dex_config_dev_file_loads(tmp_path: Path) -> None:
    env = {"LDAP_BIND_PW": "admin", "LDAP_USERNAME_ATTR": "mail"}
    with pytest.raises(ConfigError) as verbatim:  # docs/ldap.md: checked at start-up, where Dex fails at login
        load_config(write(tmp_path, DEX_CONFIG_DEV), env=env)
    assert [line.split(": ", 1)[1] for line in str(verbatim.value).splitlines()] == [
        "connectors[1].config.userSearch.idAttr: required"]
    attrs = "      idAttr: DN\n      emailAttr: mail\n"
    completed = DEX_CONFIG_DEV.replace("      username: ${LDAP_USERNAME_ATTR}\n",
                                       "      username: ${LDAP_USERNAME_ATTR}\n" + attrs)
    config = load_config(write(tmp_path, completed), env=env)
    assert config.grpc.addr == "127.0.0.1:5557"
    assert config.sessions.cookie_name == "dex_session"
    assert config.expiry.refresh_tokens.absolute_lifetime == timedelta(hours=3960)
    assert config.oauth2.password_connector == "local"
    ldap = config.connectors[1].config
    assert (ldap["bindPW"], ldap["userSearch"]["username"]) == ("admin", "mail")
    assert config.static_clients[0].redirect_uris[1] == "/dex/device/callback"
    assert config.static_passwords[0].preferred_username == "admin"
    assert config.signer.config.keys_rotation_period == timedelta(hours=6)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(str(missing), env={})
    assert str(info.value) == f"{missing}: cannot read the config file: No such file or directory"


def test_bad_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "issuer: http://x/dex\nstorage:\n  type: memory\n   bad: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value).startswith(f"{path}: invalid YAML: line 4, column ")


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "issuer: http://a/dex\nstorage: {type: memory}\nissuer: http://b/dex\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == f"{path}: invalid YAML: line 3, column 1: key 'issuer' is given twice"


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dex.yaml: the config file is empty$"):
        load_config(write(tmp_path, "# nothing yet\n"), env={})


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    assert errors(tmp_path, issuer="/dex", web={}, logger={"level": "loud"}) == [
        "issuer: must be an absolute http(s) URL, got '/dex'",
        "web: give an address to listen on: web.http or web.https",
        "logger.level: log level 'loud' is not one of debug, info, warn, error",
    ]


def test_decoding_problems_name_the_file_and_key_path(tmp_path: Path) -> None:
    clients = [{"id": "a", "name": "A", "secret": "s", "redirect_uris": ["http://x/cb"]}]
    assert errors(tmp_path, staticClients=clients) == [
        "staticClients[0].redirect_uris: unknown key; did you mean 'redirectURIs'?"
    ]


# --- issuer, storage, listeners ------------------------------------------------------------------------------

def test_issuer_is_required(tmp_path: Path) -> None:
    assert errors(tmp_path, issuer=None) == ["issuer: missing required key"]
    assert errors(tmp_path, issuer="") == ["issuer: required: the URL clients discover this server at"]


@pytest.mark.parametrize("issuer, message", [
    ("127.0.0.1:5556/dex", "must be an absolute http(s) URL, got '127.0.0.1:5556/dex'"),
    ("ftp://example.com/dex", "must be an absolute http(s) URL, got 'ftp://example.com/dex'"),
    ("https://example.com/dex?x=1", "must not have a query or fragment"),
    ("https://example.com/dex#top", "must not have a query or fragment"),
])
def test_issuer_must_be_an_absolute_http_url(tmp_path: Path, issuer: str, message: str) -> None:
    assert errors(tmp_path, issuer=issuer) == [f"issuer: {message}"]


def test_storage_type_must_be_one_dexpy_supports(tmp_path: Path) -> None:
    assert errors(tmp_path, storage={"type": "postgres"}) == [
        "storage.type: storage type 'postgres' is not one of memory, sqlite3, kubernetes"
    ]
    assert errors(tmp_path, storage={"type": "sqlite"}) == [
        "storage.type: storage type 'sqlite' is not one of memory, sqlite3, kubernetes; did you mean 'sqlite3'?"
    ]


def test_sqlite3_storage_needs_a_file(tmp_path: Path) -> None:
    assert errors(tmp_path, storage={"type": "sqlite3"}) == [
        "storage.config.file: required for sqlite3 storage: the database file"
    ]
    assert errors(tmp_path, storage={"type": "sqlite3", "config": {"fle": "x.db"}}) == [
        "storage.config.fle: unknown key; did you mean 'file'?"
    ]


def test_kubernetes_storage_needs_exactly_one_way_to_reach_the_cluster(tmp_path: Path) -> None:
    expected = ["storage.config: kubernetes storage needs exactly one of inCluster: true or kubeConfigFile"]
    assert errors(tmp_path, storage={"type": "kubernetes"}) == expected
    both = {"inCluster": True, "kubeConfigFile": "/k"}
    assert errors(tmp_path, storage={"type": "kubernetes", "config": both}) == expected
    config = load(tmp_path, storage={"type": "kubernetes", "config": {"InCluster": True}})
    assert config.storage.config == {"inCluster": True, "kubeConfigFile": "", "crdHandling": "ensure"}


def test_kubernetes_crd_handling_is_ensure_or_check(tmp_path: Path) -> None:
    storage = {"type": "kubernetes", "config": {"inCluster": True, "crdHandling": "create"}}
    assert errors(tmp_path, storage=storage) == [
        "storage.config.crdHandling: value 'create' is not one of ensure, check"
    ]


def test_memory_storage_takes_no_config(tmp_path: Path) -> None:
    assert errors(tmp_path, storage={"type": "memory", "config": {"file": "x"}}) == [
        "storage.config: storage type memory takes no config"
    ]


def test_https_needs_a_certificate_and_key(tmp_path: Path) -> None:
    assert errors(tmp_path, web={"https": "0.0.0.0:5554"}) == [
        "web.tlsCert: required with web.https",
        "web.tlsKey: required with web.https",
    ]
    config = load(tmp_path, web={"https": "0.0.0.0:5554", "tlsCert": "c.pem", "tlsKey": "k.pem"})
    assert config.web.https == "0.0.0.0:5554"


def test_tls_versions_are_1_2_or_1_3(tmp_path: Path) -> None:
    web = {"http": "127.0.0.1:5556", "tlsMinVersion": "1.1", "tlsMaxVersion": "1.3"}
    assert errors(tmp_path, web=web) == [
        "web.tlsMinVersion: TLS version '1.1' is not one of 1.2, 1.3"
    ]
    web = {"http": "127.0.0.1:5556", "tlsMinVersion": "1.3", "tlsMaxVersion": "1.2"}
    assert errors(tmp_path, web=web) == ["web.tlsMinVersion: TLS version 1.3 is above tlsMaxVersion 1.2"]


def test_grpc_tls_bounds_grpcio_cannot_keep_are_refused(tmp_path: Path) -> None:
    assert errors(tmp_path, grpc={"addr": "127.0.0.1:5557", "tlsMinVersion": "1.3", "tlsMaxVersion": "1.2"}) == [
        "grpc.tlsMinVersion: TLS version 1.3 is above tlsMaxVersion 1.2",
        "grpc.tlsMinVersion: 1.3 cannot be enforced: grpcio's TLS always accepts 1.2 and 1.3 (leave it unset or 1.2)",
        "grpc.tlsMaxVersion: 1.2 cannot be enforced: grpcio's TLS always accepts 1.2 and 1.3 (leave it unset or 1.3)",
    ]
    config = load(tmp_path, grpc={"addr": "127.0.0.1:5557", "tlsMinVersion": "1.2", "tlsMaxVersion": "1.3"})
    assert (config.grpc.tls_min_version, config.grpc.tls_max_version) == ("1.2", "1.3")


def test_an_unquoted_tls_version_asks_for_quotes(tmp_path: Path) -> None:
    path = write(tmp_path, yaml.safe_dump(BASE) + "grpc:\n  addr: 127.0.0.1:5557\n  tlsMinVersion: 1.3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == f"{path}: grpc.tlsMinVersion: expected a string, got float (quote it)"


def test_grpc_tls_cert_and_key_go_together(tmp_path: Path) -> None:
    assert errors(tmp_path, grpc={"addr": "127.0.0.1:5557", "tlsCert": "c.pem"}) == [
        "grpc: tlsCert and tlsKey must be given together"
    ]
    assert errors(tmp_path, grpc={"addr": "127.0.0.1:5557", "tlsClientCA": "ca.pem"}) == [
        "grpc.tlsClientCA: needs grpc.tlsCert and grpc.tlsKey"
    ]


def test_trusted_proxies_are_ip_ranges(tmp_path: Path) -> None:
    web = {"http": "127.0.0.1:5556", "clientRemoteIP": {"header": "X-Forwarded-For",
                                                          "trustedProxies": ["10.0.0.0/8", "proxy.local"]}}
    assert errors(tmp_path, web=web) == [
        "web.clientRemoteIP.trustedProxies[1]: not an IP address or CIDR range: 'proxy.local'"
    ]


def test_cli_overrides_replace_listen_addresses_only_when_given(tmp_path: Path) -> None:
    config = load(tmp_path, grpc={"addr": "127.0.0.1:5557"})
    changed = with_overrides(config, web_http="0.0.0.0:8080", telemetry="0.0.0.0:9090")
    assert (changed.web.http, changed.telemetry.http, changed.grpc.addr) == (
        "0.0.0.0:8080", "0.0.0.0:9090", "127.0.0.1:5557")
    assert config.web.http == "127.0.0.1:5556"
    assert with_overrides(config, web_https="", grpc="").grpc.addr == ""


def test_cli_overrides_are_validated(tmp_path: Path) -> None:
    config = load(tmp_path)
    with pytest.raises(ConfigError) as info:
        with_overrides(config, web_https="0.0.0.0:5554")
    assert str(info.value).splitlines() == [
        f"{config.source}: web.tlsCert: required with web.https",
        f"{config.source}: web.tlsKey: required with web.https",
    ]


def test_listen_addresses_need_a_port(tmp_path: Path) -> None:
    config = load(tmp_path)
    with pytest.raises(ConfigError) as info:
        with_overrides(config, web_http="nonsense", telemetry="127.0.0.1:99999", grpc="[::1]:")
    assert str(info.value).splitlines() == [
        f"{config.source}: web.http: not a host:port address with a port from 1 to 65535: 'nonsense'",
        f"{config.source}: telemetry.http: not a host:port address with a port from 1 to 65535: '127.0.0.1:99999'",
        f"{config.source}: grpc.addr: not a host:port address with a port from 1 to 65535: '[::1]:'",
    ]
    assert with_overrides(config, web_http="[::1]:8080").web.http == "[::1]:8080"


# --- oauth2, signer, expiry, presentation ----------------------------------------------------------------------

def test_response_types_must_be_ones_dex_allows(tmp_path: Path) -> None:
    assert errors(tmp_path, oauth2={"responseTypes": ["code", "token id_token", "coed"]}) == [
        "oauth2.responseTypes[1]: response type 'token id_token' is not one of code, token, id_token, "
        "code id_token, code token, id_token token, code id_token token; did you mean 'id_token token'?",
        "oauth2.responseTypes[2]: response type 'coed' is not one of code, token, id_token, code id_token, "
        "code token, id_token token, code id_token token; did you mean 'code'?",
    ]


def test_grant_types_must_be_known_and_short_urn_forms_get_a_hint(tmp_path: Path) -> None:
    [line] = errors(tmp_path, oauth2={"grantTypes": ["authorization_code", "device_code"]})
    assert line.startswith("oauth2.grantTypes[1]: grant type 'device_code' is not one of authorization_code")
    assert line.endswith("did you mean 'urn:ietf:params:oauth:grant-type:device_code'?")


def test_pkce_methods_are_s256_or_plain(tmp_path: Path) -> None:
    oauth2 = {"pkce": {"enforce": True, "codeChallengeMethodsSupported": ["S256", "S512"]}}
    assert errors(tmp_path, oauth2=oauth2) == [
        "oauth2.pkce.codeChallengeMethodsSupported[1]: code challenge method 'S512' is not one of S256, plain"
    ]


def test_signing_algorithm_is_rs256_or_es256(tmp_path: Path) -> None:
    assert errors(tmp_path, signer={"type": "local", "config": {"algorithm": "HS256"}}) == [
        "signer.config.algorithm: algorithm 'HS256' is not one of RS256, ES256; did you mean 'RS256'?"
    ]
    assert load(tmp_path, signer={"config": {"algorithm": "ES256"}}).signer.config.algorithm == "ES256"


def test_vault_signer_is_not_supported(tmp_path: Path) -> None:
    assert errors(tmp_path, signer={"type": "vault"}) == [
        "signer.type: signer type 'vault' is not one of local"
    ]


def test_key_rotation_falls_back_to_expiry_signing_keys(tmp_path: Path) -> None:
    config = load(tmp_path, expiry={"signingKeys": "2h"})
    assert config.signer.config.keys_rotation_period == timedelta(hours=2)
    config = load(tmp_path, expiry={"signingKeys": "2h"}, signer={"config": {"keysRotationPeriod": "30m"}})
    assert config.signer.config.keys_rotation_period == timedelta(minutes=30)


def test_durations_that_cannot_be_zero_must_be_positive(tmp_path: Path) -> None:
    assert errors(tmp_path, expiry={"idTokens": "0s", "refreshTokens": {"validIfNotUsedFor": "-1h"}},
                  signer={"config": {"keysRotationPeriod": "0"}}) == [
        "expiry.idTokens: must be a positive duration",
        "signer.config.keysRotationPeriod: must be a positive duration",
        "expiry.refreshTokens.validIfNotUsedFor: must not be negative",
    ]
    never = load(tmp_path, expiry={"refreshTokens": {"absoluteLifetime": "0"}})
    assert never.expiry.refresh_tokens.absolute_lifetime == timedelta(0)


def test_a_bare_number_is_not_a_duration(tmp_path: Path) -> None:
    assert errors(tmp_path, expiry={"idTokens": 3600}) == [
        'expiry.idTokens: expected a duration such as "6h", got int'
    ]


def test_logger_level_and_format(tmp_path: Path) -> None:
    assert load(tmp_path, logger={"level": "DEBUG"}).logger.level == "debug"
    assert errors(tmp_path, logger={"format": "xml"}) == [
        "logger.format: log format 'xml' is not one of text, json"
    ]


def test_legacy_themes_mean_light_and_others_are_refused(tmp_path: Path) -> None:
    assert load(tmp_path, frontend={"theme": "coreos"}).frontend.theme == "light"
    assert load(tmp_path, frontend={"theme": "tectonic"}).frontend.theme == "light"
    assert load(tmp_path, frontend={"theme": "dark"}).frontend.theme == "dark"
    assert errors(tmp_path, frontend={"theme": "blue"}) == [
        "frontend.theme: theme 'blue' is not one of light, dark"
    ]
    assert load(tmp_path, frontend={"theme": "blue", "dir": "/srv/web"}).frontend.theme == "blue"


def test_frontend_keys_match_case_insensitively_as_in_dex(tmp_path: Path) -> None:
    config = load(tmp_path, frontend={"Theme": "dark", "LogoURL": "https://x/logo.png", "Issuer": "Acme"})
    assert (config.frontend.theme, config.frontend.logo_url, config.frontend.issuer) == (
        "dark", "https://x/logo.png", "Acme")


def test_dex_frontend_dir_comes_from_the_environment_when_unset(tmp_path: Path) -> None:
    assert load(tmp_path, env={"DEX_FRONTEND_DIR": "/srv/web"}).frontend.dir == "/srv/web"


# --- clients, passwords, connectors -------------------------------------------------------------------------

def client(**fields: Any) -> dict[str, Any]:
    return {"id": "app", "name": "App", "secret": "s3cret", "redirectURIs": ["http://127.0.0.1:5555/cb"], **fields}


def test_static_client_needs_id_name_and_secret(tmp_path: Path) -> None:
    assert errors(tmp_path, staticClients=[{"redirectURIs": ["http://x/cb"]}]) == [
        "staticClients[0].id: required (or idEnv)",
        "staticClients[0].name: required",
        "staticClients[0].secret: required unless the client is public (or give secretEnv)",
    ]


def test_a_public_client_needs_no_secret_nor_redirect_uris(tmp_path: Path) -> None:
    config = load(tmp_path, staticClients=[{"id": "kubectl", "name": "kubectl", "public": True}])
    assert config.static_clients[0].public


def test_redirect_uris_must_be_absolute(tmp_path: Path) -> None:
    uris = ["/callback", "127.0.0.1:5555/cb", "http:/cb", "com.example.app:/oauth", "urn:ietf:wg:oauth:2.0:oob",
            "/dex/device/callback"]
    assert errors(tmp_path, staticClients=[client(redirectURIs=uris, postLogoutRedirectURIs=["/bye"])]) == [
        "staticClients[0].redirectURIs[0]: must be an absolute URI, got '/callback'",
        "staticClients[0].redirectURIs[1]: must be an absolute URI, got '127.0.0.1:5555/cb'",
        "staticClients[0].redirectURIs[2]: must be an absolute URI, got 'http:/cb'",
        "staticClients[0].postLogoutRedirectURIs[0]: must be an absolute URI, got '/bye'",
    ]


def test_static_client_ids_are_unique(tmp_path: Path) -> None:
    assert errors(tmp_path, staticClients=[client(), client(name="Other")]) == [
        "staticClients[1].id: another static client already has id 'app'"
    ]


def test_allowed_connectors_must_exist(tmp_path: Path) -> None:
    assert errors(tmp_path, staticClients=[client(allowedConnectors=["mock", "ldap"])]) == [
        "staticClients[0].allowedConnectors[1]: no connector with id 'ldap'"
    ]


def test_id_and_secret_can_come_from_the_environment(tmp_path: Path) -> None:
    clients = [{"idEnv": "APP_ID", "secretEnv": "APP_SECRET", "name": "App", "redirectURIs": ["http://x/cb"]}]
    config = load(tmp_path, env={"APP_ID": "from-env", "APP_SECRET": "hush"}, staticClients=clients)
    assert (config.static_clients[0].id, config.static_clients[0].secret) == ("from-env", "hush")


def test_a_missing_environment_variable_names_the_key_and_variable(tmp_path: Path) -> None:
    clients = [{"idEnv": "APP_ID", "secretEnv": "APP_SECRET", "name": "App", "redirectURIs": ["http://x/cb"]}]
    assert errors(tmp_path, env={"APP_ID": "a"}, staticClients=clients) == [
        "staticClients[0].secretEnv: environment variable APP_SECRET is not set or empty"
    ]
    assert errors(tmp_path, staticClients=[client(idEnv="APP_ID")], env={"APP_ID": "a"}) == [
        "staticClients[0].idEnv: give either id or idEnv, not both"
    ]


def password(**fields: Any) -> dict[str, Any]:
    return {"email": "admin@example.com", "hash": BCRYPT, "username": "admin", **fields}


def test_static_passwords_need_the_password_db(tmp_path: Path) -> None:
    assert errors(tmp_path, staticPasswords=[password()]) == [
        "staticPasswords: static passwords need enablePasswordDB: true"
    ]


def test_password_hash_may_be_base64_of_bcrypt_and_is_normalised(tmp_path: Path) -> None:
    encoded = base64.b64encode(BCRYPT.encode()).decode()
    config = load(tmp_path, enablePasswordDB=True, staticPasswords=[password(hash=encoded)])
    assert config.static_passwords[0].hash == BCRYPT


def test_password_hash_must_be_bcrypt(tmp_path: Path) -> None:
    assert errors(tmp_path, enablePasswordDB=True, staticPasswords=[password(hash="password")]) == [
        "staticPasswords[0].hash: not a bcrypt hash ($2a$…, $2b$…, $2y$…) nor base64 of one"
    ]
    assert errors(tmp_path, enablePasswordDB=True, staticPasswords=[password(hash="")]) == [
        "staticPasswords[0].hash: required: a bcrypt hash (or hashFromEnv)"
    ]


def test_password_hash_from_the_environment(tmp_path: Path) -> None:
    entry = password(hash="", hashFromEnv="ADMIN_HASH")
    config = load(tmp_path, env={"ADMIN_HASH": BCRYPT}, enablePasswordDB=True, staticPasswords=[entry])
    assert config.static_passwords[0].hash == BCRYPT
    assert errors(tmp_path, enablePasswordDB=True, staticPasswords=[entry]) == [
        "staticPasswords[0].hashFromEnv: environment variable ADMIN_HASH is not set or empty"
    ]


def test_static_password_needs_a_unique_email(tmp_path: Path) -> None:
    assert errors(tmp_path, enablePasswordDB=True, staticPasswords=[{"hash": BCRYPT}]) == [
        "staticPasswords[0].email: missing required key"
    ]
    twice = [password(), password(email="Admin@Example.com")]
    assert errors(tmp_path, enablePasswordDB=True, staticPasswords=twice) == [
        "staticPasswords[1].email: another static password already has email 'Admin@Example.com'"
    ]


def test_connectors_need_type_id_and_name(tmp_path: Path) -> None:
    assert errors(tmp_path, connectors=[{"type": "ldap", "id": "", "name": "LDAP"}, {"type": "ldap"}]) == [
        "connectors[1].id: missing required key",
        "connectors[1].name: missing required key",
    ]
    assert errors(tmp_path, connectors=[{"type": "mockCallback", "id": "", "name": "Mock"}]) == [
        "connectors[0].id: required"
    ]


def test_connector_type_must_be_one_dexpy_has(tmp_path: Path) -> None:
    [line] = errors(tmp_path, connectors=[{"type": "ldaps", "id": "corp", "name": "Corp"}])
    assert line.startswith("connectors[0].type: connector type 'ldaps' is not one of ")
    assert "mockCallback" in line and line.endswith("; did you mean 'ldap'?")


def test_connector_ids_are_unique_and_local_is_reserved(tmp_path: Path) -> None:
    connectors = [{"type": "mockCallback", "id": "mock", "name": "A"},
                  {"type": "mockCallback", "id": "mock", "name": "B"},
                  {"type": "mockCallback", "id": "local", "name": "C"}]
    assert errors(tmp_path, connectors=connectors, enablePasswordDB=True) == [
        "connectors[1].id: another connector already has id 'mock'",
        "connectors[2].id: 'local' is the password DB's connector id (enablePasswordDB)",
    ]


def test_connector_config_keys_are_checked_with_their_path(tmp_path: Path) -> None:
    ldap = {"host": "ldap.example.com:636", "userSearch": {"baseDN": "ou=People,dc=example,dc=org", "usernme": "mail"}}
    connectors = [{"type": "ldap", "id": "corp", "name": "Corp", "config": ldap},
                  {"type": "mockCallback", "id": "mock", "name": "Mock", "config": {"usernme": "x"}},
                  {"type": "mockPassword", "id": "pw", "name": "PW", "config": {"username": "u"}}]
    lines = errors(tmp_path, connectors=connectors)
    assert lines[0].startswith("connectors[0].config.userSearch.usernme: unknown key")
    assert "did you mean 'username'" in lines[0]
    assert lines[1:] == ["connectors[1].config.usernme: unknown key (mockCallback takes no config)",
                         "connectors[2].config.password: required"]


def test_connector_grant_types_are_checked(tmp_path: Path) -> None:
    connectors = [{"type": "mockCallback", "id": "mock", "name": "A", "grantTypes": ["client_credentials"]}]
    [line] = errors(tmp_path, connectors=connectors)
    assert line.startswith("connectors[0].grantTypes[0]: grant type 'client_credentials' is not one of")


def test_password_connector_must_be_configured(tmp_path: Path) -> None:
    assert errors(tmp_path, oauth2={"passwordConnector": "ldap"}) == [
        "oauth2.passwordConnector: no connector with id 'ldap'"
    ]
    assert errors(tmp_path, oauth2={"passwordConnector": "local"}) == [
        "oauth2.passwordConnector: no connector with id 'local' (enable it with enablePasswordDB: true)"
    ]
    config = load(tmp_path, oauth2={"passwordConnector": "local"}, enablePasswordDB=True)
    assert config.oauth2.password_connector == "local"


def test_no_connectors_and_no_password_db_is_refused(tmp_path: Path) -> None:
    assert errors(tmp_path, connectors=None) == [
        "connectors: no connectors specified: add one, or set enablePasswordDB: true"
    ]
    assert load(tmp_path, connectors=None, enablePasswordDB=True).connectors == []


# --- environment expansion -----------------------------------------------------------------------------------

def test_env_is_expanded_inside_storage_connector_and_signer_config_only(tmp_path: Path) -> None:
    env = {"DATA": "/var/lib/dex", "BIND_PW": "pw", "ROTATE": "3h", "SECRET": "leaked", "HOST": "example.com"}
    config = load(
        tmp_path, env,
        issuer="http://$HOST/dex",
        storage={"type": "sqlite3", "config": {"file": "${DATA}/dex.db"}},
        connectors=[{"type": "ldap", "id": "ldap", "name": "$HOST",
                     "config": {"bindDN": "cn=admin", "bindPW": "$BIND_PW", "host": "$HOST:636", "userSearch": {
                         "baseDN": "dc=example", "username": "mail", "idAttr": "DN", "emailAttr": "mail",
                         "nameAttr": "cn$UNSET"}}}],
        signer={"config": {"keysRotationPeriod": "$ROTATE"}},
        staticClients=[client(secret="$SECRET")],
    )
    assert config.storage.config["file"] == "/var/lib/dex/dex.db"
    assert config.connectors[0].config == {"bindDN": "cn=admin", "bindPW": "pw", "host": "example.com:636",
                                           "userSearch": {"baseDN": "dc=example", "username": "mail", "idAttr": "DN",
                                                          "emailAttr": "mail", "nameAttr": "cn"}}
    assert config.signer.config.keys_rotation_period == timedelta(hours=3)
    assert config.issuer == "http://$HOST/dex"
    assert config.connectors[0].name == "$HOST"
    assert config.static_clients[0].secret == "$SECRET"


def test_dex_expand_env_false_turns_expansion_off(tmp_path: Path) -> None:
    storage = {"type": "sqlite3", "config": {"file": "$DATA/dex.db"}}
    config = load(tmp_path, {"DEX_EXPAND_ENV": "false", "DATA": "/d"}, storage=storage)
    assert config.storage.config["file"] == "$DATA/dex.db"
    assert load(tmp_path, {"DEX_EXPAND_ENV": "1", "DATA": "/d"}, storage=storage).storage.config["file"] == "/d/dex.db"


@pytest.mark.parametrize("text, expected", [
    ("$A/$B", "a/"), ("${A}x", "ax"), ("$Ax", ""), ("cost: 5$", "cost: 5$"), ("$$", ""), ("${}", ""),
    ("a$/b", "a$/b"), ("$1", "one"), ("${A", "A"),
])
def test_expansion_follows_go_os_expand_env(text: str, expected: str) -> None:
    assert expand_env(text, {"A": "a", "1": "one"}) == expected
