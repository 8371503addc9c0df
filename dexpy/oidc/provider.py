"""The OpenID provider: what the web routes call. Knows no HTTP framework.

The authorization endpoint's rules (Dex `server/authflow/request.go`): an unknown client or an unregistered
redirect URI is shown to the user as an error page and never redirected (an open redirect otherwise); every
later problem goes back to the client's redirect URI with `error` and `state`.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidRequestError,
    OAuth2Error,
    UnsupportedResponseTypeError,
)

from dexpy.clock import Clock, system_clock
from dexpy.config import DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT, Config
from dexpy.connectors.base import (
    ConnectorError,
    ConnectorUnavailable,
    Identity,
    PasswordConnector,
    Scopes,
    implements,
)
from dexpy.connectors.manager import ConnectorManager, UnknownConnector
from dexpy.ids import new_id
from dexpy.model import AuthCode, Client
from dexpy.oidc import scopes as sc
from dexpy.oidc.grants.authorization_code import AuthorizationCodeGrant, pkce
from dexpy.oidc.grants.base import TOKEN_AUTH_METHODS
from dexpy.oidc.grants.client_credentials import ClientCredentialsGrant
from dexpy.oidc.grants.device_code import DeviceCodeGrant
from dexpy.oidc.grants.password import PasswordGrant
from dexpy.oidc.grants.refresh_token import RefreshTokenGrant
from dexpy.oidc.grants.token_exchange import TokenExchangeGrant
from dexpy.oidc.introspection import IntrospectionEndpoint
from dexpy.oidc.issuance import Issuance
from dexpy.oidc.keys import KeyManager
from dexpy.oidc.loginstate import LoginState, seal, unseal
from dexpy.oidc.logout import Logout
from dexpy.oidc.redirects import OOB_URI, redirect_uri_allowed, with_params
from dexpy.oidc.revocation import RevocationEndpoint
from dexpy.oidc.server import DexpyAuthorizationServer
from dexpy.oidc.sessions import HINT_SUBJECT, Session, SessionManager, check_prompt
from dexpy.oidc.tokens import InvalidToken, Subject, TokenIssuer
from dexpy.security.clientip import client_ip
from dexpy.security.lockout import Lockout, ip_target, user_target
from dexpy.security.usernames import user_ref
from dexpy.storage import NotFound, Storage
from dexpy.telemetry import events

AUTH_CODE_TTL = timedelta(minutes=10)
"""RFC 6749 §4.1.2 recommends at most 10 minutes (Dex hard-codes 30)."""

GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_REFRESH_TOKEN = "refresh_token"
GRANT_PASSWORD = "password"
GRANT_IMPLICIT = "implicit"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
SUPPORTED_GRANTS = (GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, GRANT_PASSWORD, GRANT_IMPLICIT, DEVICE_CODE_GRANT,
                    TOKEN_EXCHANGE_GRANT, GRANT_CLIENT_CREDENTIALS)
RESPONSE_MODES = ("query", "fragment", "form_post")


class BrowserError(Exception):
    """A problem to show the user on an error page (never redirected to the client)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RedirectError(Exception):
    """An OAuth error to send back to the client's redirect URI."""

    def __init__(self, error: OAuth2Error, redirect_uri: str, state: str, response_mode: str) -> None:
        super().__init__(error.error)
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state
        self.response_mode = response_mode

    @property
    def params(self) -> dict[str, str]:
        return {"error": self.error.error, "error_description": self.error.description or "", "state": self.state}


@dataclass(frozen=True)
class AuthorizationResponse:
    """Where the browser goes once authorization is granted."""

    redirect_uri: str
    params: dict[str, str]
    mode: str
    """query | fragment | form_post | oob"""

    @property
    def location(self) -> str:
        return with_params(self.redirect_uri, self.params, fragment=self.mode == "fragment")


def _single(params: Mapping[str, list[str]], name: str) -> str:
    values = params.get(name, [])
    if len(values) > 1:
        raise InvalidRequestError(f"Parameter '{name}' is repeated.")
    return values[0] if values else ""


def _echo(value: str) -> str:
    """A request value fit for an error description (RFC 6749 §5.2 allows only some ASCII there)."""
    return "".join(c if c == " " or sc.SCOPE_TOKEN.fullmatch(c) else "?" for c in value)


def resolve_grant_types(config: Config) -> frozenset[str]:
    """Dex's `supportedTypes`: the grants the configuration enables, narrowed by `oauth2.grantTypes`.

    Unlike Dex (where it takes `DEX_CLIENT_CREDENTIAL_GRANT_ENABLED_BY_DEFAULT`), client_credentials is on
    when `oauth2.grantTypes` is empty: only confidential clients can use it, for tokens about themselves."""
    grants = {GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT,
              GRANT_CLIENT_CREDENTIALS}
    if any("token" in rt.split() for rt in config.oauth2.response_types):
        grants.add(GRANT_IMPLICIT)
    if config.oauth2.password_connector:
        grants.add(GRANT_PASSWORD)
    if config.oauth2.grant_types:
        grants &= set(config.oauth2.grant_types)
    return frozenset(grants)


class Provider:
    def __init__(self, config: Config, storage: Storage, clock: Clock = system_clock) -> None:
        self.config = config
        self.storage = storage
        self.clock = clock
        self.issuer = config.issuer.rstrip("/")
        self.issuer_path = urlsplit(self.issuer).path.rstrip("/")
        rotation = config.signer.config.keys_rotation_period or config.expiry.signing_keys
        self.keys = KeyManager(storage, clock, rotation_period=rotation, id_token_ttl=config.expiry.id_tokens,
                               algorithm=config.signer.config.algorithm)
        self.tokens = TokenIssuer(self.issuer, self.keys, clock, config.expiry.id_tokens)
        self.connectors = ConnectorManager(storage)
        self.issuance = Issuance(storage, self.tokens, self.connectors, clock, config.expiry.refresh_tokens)
        self.lockout = Lockout(storage, clock, config.security.lockout)
        self.grant_types = resolve_grant_types(config)
        # 'token' alone (OAuth implicit without an ID token) is not served, so it is not advertised either
        self.response_types = frozenset(" ".join(sorted(rt.split())) for rt in config.oauth2.response_types) - {"token"}
        self.server = self._authorization_server()
        self.sessions = SessionManager(config.sessions, lambda: self.keys.current.state_keys, clock,
                                       lambda sid: self.issuance.is_revoked({"sid": sid}))
        self.logout = Logout(storage, self.tokens, self.issuance)

    def _authorization_server(self) -> DexpyAuthorizationServer:
        server = DexpyAuthorizationServer(self.storage, self.grant_types, self.lockout,
                                          insecure_transport=self.issuer.startswith("http:"))
        server.issuance = self.issuance
        server.password_connector = self.config.oauth2.password_connector
        server.get_stored_client = self.get_client
        server.login_with_password = self.login_with_password
        if GRANT_AUTHORIZATION_CODE in self.grant_types:
            server.register_grant(AuthorizationCodeGrant, [pkce()])
        if GRANT_REFRESH_TOKEN in self.grant_types:
            server.register_grant(RefreshTokenGrant)
        if GRANT_PASSWORD in self.grant_types:
            server.register_grant(PasswordGrant)
        if DEVICE_CODE_GRANT in self.grant_types:
            server.register_grant(DeviceCodeGrant)
        if GRANT_CLIENT_CREDENTIALS in self.grant_types:
            server.register_grant(ClientCredentialsGrant)
        if TOKEN_EXCHANGE_GRANT in self.grant_types:
            server.register_grant(TokenExchangeGrant)
        server.register_endpoint(RevocationEndpoint)
        server.register_endpoint(IntrospectionEndpoint)
        return server

    def url(self, path: str) -> str:
        return self.issuer + path

    @property
    def device_callback_url(self) -> str:
        return self.url("/device/callback")

    def get_client(self, client_id: str) -> Client | None:
        try:
            return self.storage.get(Client, client_id)
        except NotFound:
            return None

    # -- discovery ------------------------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        grant_types = sorted(self.grant_types)
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("/auth"),
            "token_endpoint": self.url("/token"),
            "jwks_uri": self.url("/keys"),
            "userinfo_endpoint": self.url("/userinfo"),
            **({"device_authorization_endpoint": self.url("/device/code")}
               if DEVICE_CODE_GRANT in self.grant_types else {}),
            "revocation_endpoint": self.url("/token/revoke"),
            "revocation_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
            "introspection_endpoint": self.url("/token/introspect"),
            "introspection_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
            "end_session_endpoint": self.url("/logout"),
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "authorization_response_iss_parameter_supported": True,
            "grant_types_supported": grant_types,
            "response_types_supported": sorted(self.response_types),
            "response_modes_supported": list(RESPONSE_MODES),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.config.signer.config.algorithm],
            "code_challenge_methods_supported": list(self.config.oauth2.pkce.code_challenge_methods_supported),
            "scopes_supported": ["openid", "email", "groups", "profile", "offline_access"],
            "token_endpoint_auth_methods_supported": list(TOKEN_AUTH_METHODS),
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "email", "email_verified", "locale", "name",
                                 "preferred_username", "at_hash", "c_hash", "nonce", "groups", "federated_claims",
                                 "auth_time", "sid"],
        }

    # -- authorization endpoint -----------------------------------------------------------------------------

    def start_authorization(self, params: Mapping[str, list[str]], browser: str) -> LoginState:
        """Validate an authorization request into the login state that the browser will carry."""
        try:
            client_id = _single(params, "client_id")
            redirect_uri = _single(params, "redirect_uri")
        except InvalidRequestError as exc:
            raise BrowserError(400, exc.description) from None
        client = self.get_client(client_id) if client_id else None
        if client is None:
            raise BrowserError(404 if client_id else 400, "Invalid client_id.")
        if not redirect_uri or not redirect_uri_allowed(client, redirect_uri, self.device_callback_url):
            raise BrowserError(400, "Unregistered redirect_uri.")
        state = ""
        response_mode = ""
        try:
            state = _single(params, "state")
            response_types = _single(params, "response_type").split()
            self._check_response_types(response_types)
            response_mode = "query" if response_types == ["code"] else "fragment"  # errors go where tokens would
            response_mode = self._response_mode(_single(params, "response_mode"), response_types, redirect_uri)
            return self._validated(client, redirect_uri, state, response_types, response_mode, params, browser)
        except OAuth2Error as error:
            raise RedirectError(error, redirect_uri, state, response_mode or "query") from None

    def _check_response_types(self, response_types: list[str]) -> None:
        """Errors about the response type itself go back in the query: the mode depends on a valid type."""
        if not response_types:
            raise InvalidRequestError("No response_type provided.")
        if " ".join(sorted(response_types)) not in self.response_types or not set(response_types) <= {
            "code", "token", "id_token"
        }:
            raise UnsupportedResponseTypeError(_echo(" ".join(response_types)))

    def _response_mode(self, requested: str, response_types: list[str], redirect_uri: str) -> str:
        if redirect_uri == OOB_URI:
            return "oob"
        if requested:
            if requested not in RESPONSE_MODES:
                raise InvalidRequestError(f"Unsupported response_mode '{_echo(requested)}'.")
            if requested == "query" and response_types != ["code"]:
                raise InvalidRequestError("response_mode=query cannot carry tokens.")
            return requested
        return "query" if response_types == ["code"] else "fragment"

    def _validated(self, client: Client, redirect_uri: str, state: str, response_types: list[str],
                   response_mode: str, params: Mapping[str, list[str]], browser: str) -> LoginState:
        if _single(params, "request"):
            raise OAuth2Error("Request objects are not supported.", status_code=400) from None
        nonce = _single(params, "nonce")
        if not nonce and ("id_token" in response_types or "code" not in response_types):
            # OIDC Core §3.2.2.1, §3.3.2.11: an ID token from the authorization endpoint must be bound to a nonce
            raise InvalidRequestError("This response_type requires a 'nonce' value.")
        if redirect_uri == OOB_URI and response_types != ["code"]:
            raise InvalidRequestError("The out-of-band redirect URI only serves the code flow.")
        scopes = sc.split_scopes(_single(params, "scope"))
        sc.check_requested_scopes(scopes, client.id, self.get_client)
        challenge = _single(params, "code_challenge")
        method = _single(params, "code_challenge_method") or ("plain" if challenge else "")
        pkce_config = self.config.oauth2.pkce
        if challenge and method not in pkce_config.code_challenge_methods_supported:
            raise InvalidRequestError(f"Unsupported PKCE challenge method ({_echo(method)}).")
        if not challenge and (pkce_config.enforce and "code" in response_types):
            raise InvalidRequestError("PKCE is required: send code_challenge.")
        prompt = _single(params, "prompt")
        check_prompt(prompt)
        force = _single(params, "approval_prompt") == "force" or "consent" in prompt.split()
        max_age_raw = _single(params, "max_age")
        if max_age_raw and not max_age_raw.isdigit():
            raise InvalidRequestError("max_age must be a non-negative integer.")
        expiry = self.clock() + self.config.expiry.auth_requests
        return LoginState(
            client_id=client.id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            response_types=response_types,
            expiry=int(expiry.timestamp()),
            browser=browser,
            state=state,
            nonce=nonce,
            code_challenge=challenge,
            code_challenge_method=method if challenge else "",
            response_mode=response_mode,
            force_approval=force,
            prompt=prompt,
            max_age=int(max_age_raw) if max_age_raw else None,
            connector_id=_single(params, "connector_id"),
            extra=self._hint_subject(_single(params, "id_token_hint")),
        )

    def _hint_subject(self, hint: str) -> dict[str, str]:
        """The `sub` of a valid id_token_hint (signature and issuer checked; it may have expired)."""
        if not hint:
            return {}
        try:
            return {HINT_SUBJECT: str(self.tokens.verify(hint, check_expiry=False)["sub"])}
        except (InvalidToken, KeyError):
            raise InvalidRequestError("Invalid id_token_hint.") from None

    def seal(self, state: LoginState) -> str:
        return seal(state, self.keys.current.state_keys[0])

    def unseal(self, value: str, browser: str) -> LoginState:
        return unseal(value, self.keys.current.state_keys, browser=browser, now=self.clock())

    def resume_session(self, state: LoginState, session: Session | None) -> LoginState | None:
        """SSO: the login completed from the browser's session, or None when the user has to log in."""
        try:
            return self.sessions.resume(state, session, functools.partial(self.may_use_connector, state),
                                        self.needs_approval)
        except OAuth2Error as error:
            raise RedirectError(error, state.redirect_uri, state.state, state.response_mode) from None

    def _client_connectors(self, state: LoginState) -> list[str] | None:
        """The connectors the login's client is restricted to (its `allowedConnectors`), or None: any."""
        client = self.get_client(state.client_id)
        return client.allowed_connectors if client and client.allowed_connectors else None

    def allowed_connectors(self, state: LoginState) -> list[str]:
        """Every connector the login's client may use, in the login page's order."""
        only = self._client_connectors(state)
        return [r.id for r in self.connectors.records() if only is None or r.id in only]

    def client_allows(self, state: LoginState, connector_id: str) -> bool:
        """Whether the login's client may use the connector, by its `allowedConnectors` alone."""
        only = self._client_connectors(state)
        return only is None or connector_id in only

    def may_use_connector(self, state: LoginState, connector_id: str) -> bool:
        """Whether the connector exists and the login's client may use it: one record read, where
        `allowed_connectors` reads them all."""
        if not self.client_allows(state, connector_id):
            return False
        try:
            self.connectors.record(connector_id)
        except UnknownConnector:
            return False
        return True

    def login_with_password(self, connector_id: str, connector: PasswordConnector, scopes: Scopes, username: str,
                            password: str, *, client_id: str) -> Identity | None:
        """The one place a password is checked (login form and password grant alike), and counted. Repeated
        failures lock the user and the client IP out for a while; locked or not, the password is checked, so
        that the answer takes the same time, and refused alike."""
        ref = user_ref(username)
        attempt = self.lockout.begin([user_target(connector_id, ref), ip_target(client_ip())])
        try:
            identity = connector.login(scopes, username, password)
        except ConnectorError as exc:  # nobody's failure: not counted for lockout, but counted and audited
            result = "unavailable" if isinstance(exc, ConnectorUnavailable) else "error"
            events.login(connector_id, result, ref=ref, client_id=client_id)
            raise
        allowed = attempt.finish(identity is not None)
        if identity is None or not allowed:
            events.login(connector_id, "invalid_credentials", ref=ref, client_id=client_id)
            return None
        events.login(connector_id, "success", client_id=client_id, claims=identity.claims())
        return identity

    def finish_login(self, state: LoginState, connector_id: str, identity: Identity) -> LoginState:
        """The login state once a connector vouched for the user; counts callback logins (password logins
        were counted when the password was checked)."""
        claims = identity.claims()
        if not implements(self.connectors.get(connector_id), PasswordConnector):
            events.login(connector_id, "success", client_id=state.client_id, claims=claims)
        return replace(state, connector_id=connector_id, claims=claims,
                       connector_data=base64.b64encode(identity.connector_data).decode(),
                       auth_time=int(self.clock().timestamp()))

    def needs_approval(self, state: LoginState) -> bool:
        return state.force_approval or not self.config.oauth2.skip_approval_screen

    def deny(self, state: LoginState) -> RedirectError:
        return RedirectError(AccessDeniedError("The user denied the request."), state.redirect_uri, state.state,
                             state.response_mode)

    def authorize(self, state: LoginState) -> AuthorizationResponse:
        """Issue what the response type asks for, once the user has logged in and approved."""
        assert state.claims is not None
        now = self.clock()
        grant_id = new_id()
        subject = Subject(claims=state.claims, connector_id=state.connector_id, scopes=state.scopes,
                          client_id=state.client_id, nonce=state.nonce,
                          auth_time=datetime.fromtimestamp(state.auth_time, now.tzinfo) if state.auth_time else None,
                          session_id=state.session_id, grant_id=grant_id)
        params: dict[str, str] = {}
        code = ""
        if "code" in state.response_types:
            code = new_id()
            self.storage.create(AuthCode(
                id=code, client_id=state.client_id, redirect_uri=state.redirect_uri, claims=state.claims,
                connector_id=state.connector_id, expiry=now + AUTH_CODE_TTL, scopes=state.scopes, nonce=state.nonce,
                connector_data=base64.b64decode(state.connector_data) if state.connector_data else b"",
                code_challenge=state.code_challenge, code_challenge_method=state.code_challenge_method,
                auth_time=subject.auth_time or now, session_id=state.session_id, grant_id=grant_id,
            ))
            params["code"] = code
        access = ""
        hybrid = {"token", "id_token"} & set(state.response_types)  # tokens from this endpoint (implicit, hybrid)
        shared = self.tokens.shared_claims(subject) if hybrid else None
        if "token" in state.response_types:
            access, expires_in = self.tokens.access_token(subject, shared)
            params.update(access_token=access, token_type="bearer", expires_in=str(expires_in))
        if "id_token" in state.response_types:
            params["id_token"] = self.tokens.id_token(subject, shared=shared, access_token=access, code=code)
        if state.state:
            params["state"] = state.state
        params["iss"] = self.issuer  # RFC 9207: tells a client talking to several issuers which one answered
        return AuthorizationResponse(state.redirect_uri, params, state.response_mode)

    # -- userinfo -------------------------------------------------------------------------------------------

    def userinfo(self, access_token: str) -> dict[str, Any]:
        """The claims of a valid, unrevoked access token (InvalidToken otherwise). An ID token is refused: it
        names no grant, so revoking the grant could not stop it here."""
        claims = self.tokens.verify(access_token)
        if not claims.get("jti"):
            raise InvalidToken("not an access token")
        if self.issuance.is_revoked(claims):
            raise InvalidToken("token was revoked")
        return claims
