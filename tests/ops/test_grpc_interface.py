"""dexpy's api.proto against Dex's published interface (github.com/dexidp/dex, api/v2/api.proto).

The tables below are written from Dex's file, not from ours: a renumbered or retyped field, a renamed
message or call, or a field Dex does not have breaks Dex's clients on the wire, and fails here.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2

from dexpy.api import API_VERSION, pb

S, RS, I64, B = "string", "repeated string", "int64", "bool"

DEX_MESSAGES: dict[str, dict[str, tuple[int, str]]] = {
    "Client": {
        "id": (1, S), "secret": (2, S), "redirect_uris": (3, RS), "trusted_peers": (4, RS), "public": (5, B),
        "name": (6, S), "logo_url": (7, S), "allowed_connectors": (8, RS), "sso_shared_with": (9, RS),
        "backchannel_logout_uri": (10, S), "post_logout_redirect_uris": (11, RS), "refresh_token_lifetime": (12, S),
    },
    "ClientInfo": {
        "id": (1, S), "redirect_uris": (2, RS), "trusted_peers": (3, RS), "public": (4, B), "name": (5, S),
        "logo_url": (6, S), "allowed_connectors": (7, RS), "sso_shared_with": (8, RS),
        "backchannel_logout_uri": (9, S), "post_logout_redirect_uris": (10, RS), "refresh_token_lifetime": (11, S),
    },
    "GetClientReq": {"id": (1, S)},
    "GetClientResp": {"client": (1, "Client")},
    "CreateClientReq": {"client": (1, "Client")},
    "CreateClientResp": {"already_exists": (1, B), "client": (2, "Client")},
    "DeleteClientReq": {"id": (1, S)},
    "DeleteClientResp": {"not_found": (1, B)},
    "UpdateClientReq": {
        "id": (1, S), "redirect_uris": (2, RS), "trusted_peers": (3, RS), "name": (4, S), "logo_url": (5, S),
        "allowed_connectors": (6, RS), "sso_shared_with": (7, RS), "backchannel_logout_uri": (8, "optional string"),
        "post_logout_redirect_uris": (9, RS), "refresh_token_lifetime": (10, "optional string"),
    },
    "UpdateClientResp": {"not_found": (1, B)},
    "ListClientReq": {},
    "ListClientResp": {"clients": (1, "repeated ClientInfo")},
    "Password": {"email": (1, S), "hash": (2, "bytes"), "username": (3, S), "user_id": (4, S)},
    "CreatePasswordReq": {"password": (1, "Password")},
    "CreatePasswordResp": {"already_exists": (1, B)},
    "UpdatePasswordReq": {"email": (1, S), "new_hash": (2, "bytes"), "new_username": (3, S)},
    "UpdatePasswordResp": {"not_found": (1, B)},
    "DeletePasswordReq": {"email": (1, S)},
    "DeletePasswordResp": {"not_found": (1, B)},
    "ListPasswordReq": {},
    "ListPasswordResp": {"passwords": (1, "repeated Password")},
    "Connector": {"id": (1, S), "type": (2, S), "name": (3, S), "config": (4, "bytes"), "grant_types": (5, RS)},
    "CreateConnectorReq": {"connector": (1, "Connector")},
    "CreateConnectorResp": {"already_exists": (1, B)},
    "GrantTypes": {"grant_types": (1, RS)},
    "UpdateConnectorReq": {
        "id": (1, S), "new_type": (2, S), "new_name": (3, S), "new_config": (4, "bytes"),
        "new_grant_types": (5, "GrantTypes"),
    },
    "UpdateConnectorResp": {"not_found": (1, B)},
    "DeleteConnectorReq": {"id": (1, S)},
    "DeleteConnectorResp": {"not_found": (1, B)},
    "ListConnectorReq": {},
    "ListConnectorResp": {"connectors": (1, "repeated Connector")},
    "VersionReq": {},
    "VersionResp": {"server": (1, S), "api": (2, "int32")},
    "DiscoveryReq": {},
    "DiscoveryResp": {
        "issuer": (1, S), "authorization_endpoint": (2, S), "token_endpoint": (3, S), "jwks_uri": (4, S),
        "userinfo_endpoint": (5, S), "device_authorization_endpoint": (6, S), "introspection_endpoint": (7, S),
        "grant_types_supported": (8, RS), "response_types_supported": (9, RS), "subject_types_supported": (10, RS),
        "id_token_signing_alg_values_supported": (11, RS), "code_challenge_methods_supported": (12, RS),
        "scopes_supported": (13, RS), "token_endpoint_auth_methods_supported": (14, RS), "claims_supported": (15, RS),
    },
    "RefreshTokenRef": {"id": (1, S), "client_id": (2, S), "created_at": (5, I64), "last_used": (6, I64)},
    "ListRefreshReq": {"user_id": (1, S)},
    "ListRefreshResp": {"refresh_tokens": (1, "repeated RefreshTokenRef")},
    "RevokeRefreshReq": {"user_id": (1, S), "client_id": (2, S)},
    "RevokeRefreshResp": {"not_found": (1, B)},
    "VerifyPasswordReq": {"email": (1, S), "password": (2, S)},
    "VerifyPasswordResp": {"verified": (1, B), "not_found": (2, B)},
}
"""Every message of Dex's API that dexpy's calls use, field by field: (number, type)."""

DEX_LEVEL_3_CALLS: dict[str, tuple[str, str]] = {
    "GetClient": ("GetClientReq", "GetClientResp"),
    "CreateClient": ("CreateClientReq", "CreateClientResp"),
    "UpdateClient": ("UpdateClientReq", "UpdateClientResp"),
    "DeleteClient": ("DeleteClientReq", "DeleteClientResp"),
    "ListClients": ("ListClientReq", "ListClientResp"),
    "CreatePassword": ("CreatePasswordReq", "CreatePasswordResp"),
    "UpdatePassword": ("UpdatePasswordReq", "UpdatePasswordResp"),
    "DeletePassword": ("DeletePasswordReq", "DeletePasswordResp"),
    "ListPasswords": ("ListPasswordReq", "ListPasswordResp"),
    "CreateConnector": ("CreateConnectorReq", "CreateConnectorResp"),
    "UpdateConnector": ("UpdateConnectorReq", "UpdateConnectorResp"),
    "DeleteConnector": ("DeleteConnectorReq", "DeleteConnectorResp"),
    "ListConnectors": ("ListConnectorReq", "ListConnectorResp"),
    "GetVersion": ("VersionReq", "VersionResp"),
    "GetDiscovery": ("DiscoveryReq", "DiscoveryResp"),
    "ListRefresh": ("ListRefreshReq", "ListRefreshResp"),
    "RevokeRefresh": ("RevokeRefreshReq", "RevokeRefreshResp"),
    "VerifyPassword": ("VerifyPasswordReq", "VerifyPasswordResp"),
}
"""The calls of `api.Dex` up to API level 3 (Dex v2.45.1), all unary: request and response message."""

DEX_LEVEL_4_CALLS = (
    "GetAuthSession", "ListAuthSessions", "DeleteAuthSession", "TerminateSessionsByConnector",
    "TerminateSessionsByUser", "GetUserIdentity", "ListUserIdentities", "DeleteUserIdentity", "ResetMFA",
    "ListMFADevices", "DeleteWebAuthnCredential", "DeleteMFASecret", "RevokeConsent",
)
"""The calls Dex added at level 4 (HEAD), which dexpy does not serve."""


def _compiled() -> descriptor_pb2.FileDescriptorProto:
    return descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)


def _type(field: descriptor_pb2.FieldDescriptorProto) -> str:
    if field.type_name:
        name = field.type_name.removeprefix(".api.")
    else:
        name = descriptor_pb2.FieldDescriptorProto.Type.Name(field.type).removeprefix("TYPE_").lower()
    if field.label == field.LABEL_REPEATED:
        return f"repeated {name}"
    return f"optional {name}" if field.proto3_optional else name


def test_package_and_service_are_dexs() -> None:
    compiled = _compiled()
    assert compiled.package == "api" and compiled.syntax == "proto3"
    assert [s.name for s in compiled.service] == ["Dex"]
    assert pb.DESCRIPTOR.services_by_name["Dex"].full_name == "api.Dex"


def test_every_message_has_dexs_fields_numbers_and_types() -> None:
    compiled = {m.name: {f.name: (f.number, _type(f)) for f in m.field} for m in _compiled().message_type}
    assert compiled == DEX_MESSAGES


def test_every_call_has_dexs_name_and_messages() -> None:
    methods = _compiled().service[0].method
    assert not any(m.client_streaming or m.server_streaming for m in methods)
    calls = {m.name: (m.input_type.removeprefix(".api."), m.output_type.removeprefix(".api.")) for m in methods}
    assert calls == DEX_LEVEL_3_CALLS


def test_get_version_reports_the_level_whose_calls_are_all_served() -> None:
    """Dex clients read `api` to know which calls they may make; level 4 would promise the session calls."""
    served = set(pb.DESCRIPTOR.services_by_name["Dex"].methods_by_name)
    assert served == set(DEX_LEVEL_3_CALLS) and served.isdisjoint(DEX_LEVEL_4_CALLS)
    assert API_VERSION == 3
