"""Browser sessions (SSO) that cost no storage writes: the session is a sealed cookie, not a stored object.

The cookie carries who logged in (claims, connector, connector data, `auth_time`), when the session began and
was last used, and which clients got tokens in it with the scopes the user approved for each (for SSO
consent and back-channel logout). It is sealed under the replicas' shared state keys, so any replica can open
it and nobody can forge or read it. Logging out writes one `Revocation` for the session id, which every
replica consults when it opens a cookie, and which stops the session's tokens (they carry `sid`).

The prompt rules (OIDC Core §3.1.2.1, Dex HEAD `server/authflow`): `none` alone or not at all; `login` and
`select_account` ask the user again; `max_age` and an `id_token_hint` naming another user make the session
unusable; with `prompt=none` an unusable session is `login_required` and a needed approval `consent_required`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError

from dexpy.clock import Clock
from dexpy.config import SessionsConfig
from dexpy.ids import new_id
from dexpy.model import Claims
from dexpy.oidc import sealing
from dexpy.oidc.loginstate import LoginState
from dexpy.oidc.wire import encode_subject
from dexpy.storage import codec

_AAD = b"dexpy-session-v1"
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
ASK_AGAIN = frozenset({"login", "select_account"})
HINT_SUBJECT = "id_token_hint_sub"
"""The key of `LoginState.extra` that holds the verified `sub` of the request's id_token_hint."""


@dataclass
class Session:
    sid: str
    claims: Claims
    connector_id: str
    connector_data: str
    """base64 of the connector's data, as in LoginState."""
    auth_time: int
    created: int
    last_used: int
    """Unix seconds, like `auth_time` and `created`."""
    consents: dict[str, list[str]] = field(default_factory=dict)
    """Client id → the scopes the user approved for it in this session: the clients that got tokens."""

    @property
    def subject(self) -> str:
        return encode_subject(self.claims.user_id, self.connector_id)

    def consented(self, client_id: str, scopes: list[str]) -> bool:
        return client_id in self.consents and set(scopes) <= set(self.consents[client_id])


def check_prompt(prompt: str) -> None:
    values = set(prompt.split())
    if not values <= PROMPTS:
        raise InvalidRequestError("Unsupported prompt value; use none, login, consent or select_account.")
    if "none" in values and len(values) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.")


def approval_needed(by_policy: bool, login: LoginState, session: Session | None) -> bool:
    """Whether to show the approval page: the provider's policy, unless this session already holds the
    user's consent for these scopes (and the client did not ask for consent again)."""
    if not by_policy or login.force_approval:
        return by_policy
    return session is None or session.sid != login.session_id or not session.consented(login.client_id, login.scopes)


class SessionManager:
    def __init__(self, config: SessionsConfig, state_keys: Callable[[], tuple[bytes, ...]], clock: Clock,
                 is_revoked: Callable[[str], bool]) -> None:
        self.config = config
        self.state_keys = state_keys
        self.clock = clock
        self.is_revoked = is_revoked

    def seal(self, session: Session) -> str:
        data = codec.encode(session)  # as loginstate.seal
        return sealing.seal(json.dumps(data, separators=(",", ":")).encode(), self.state_keys()[0], _AAD)

    def open(self, value: str) -> Session | None:
        """The live session a cookie holds: None when it is not ours, past a lifetime, or logged out."""
        try:
            data = json.loads(sealing.unseal(value, self.state_keys(), _AAD))
            session = Session(**{**data, "claims": Claims(**data["claims"])})
        except (sealing.Unsealable, ValueError, TypeError, KeyError):
            return None  # not ours, or sealed by a version that shaped it differently
        now = self.clock()
        if now >= _at(session.created) + self.config.absolute_lifetime:
            return None
        if now >= _at(session.last_used) + self.config.valid_if_not_used_for:
            return None
        if self.is_revoked(session.sid):
            return None
        return session

    def session_id_for(self, login: LoginState, current: Session | None) -> str:
        """The browser's session continues when the same user logs in again; anyone else starts a new one."""
        if current is not None and login.claims is not None and current.subject == encode_subject(
            login.claims.user_id, login.connector_id
        ):
            return current.sid
        return new_id()

    def recorded(self, login: LoginState, current: Session | None) -> Session:
        """The session after `login` was authorized: the client and its approved scopes remembered, last use
        now. `login.session_id` names the session (see `session_id_for`)."""
        assert login.claims is not None
        now = int(self.clock().timestamp())
        consents = dict(current.consents) if current is not None and current.sid == login.session_id else {}
        consents[login.client_id] = sorted(set(consents.get(login.client_id, [])) | set(login.scopes))
        created = current.created if current is not None and current.sid == login.session_id else now
        return Session(sid=login.session_id, claims=login.claims, connector_id=login.connector_id,
                       connector_data=login.connector_data, auth_time=login.auth_time, created=created,
                       last_used=now, consents=consents)

    def resume(self, login: LoginState, session: Session | None, may_use_connector: Callable[[str], bool],
               by_policy: Callable[[LoginState], bool]) -> LoginState | None:
        """SSO: `login` completed from the session, or None when the user has to log in. With prompt=none the
        user cannot be asked anything, so that raises the OAuth error for the client instead."""
        silent = "none" in login.prompt.split()
        problem = self._unusable(login, session, may_use_connector)
        if problem is not None:
            if silent:
                raise problem
            return None
        assert session is not None
        resumed = replace(login, claims=session.claims, connector_id=session.connector_id,
                          connector_data=session.connector_data, auth_time=session.auth_time,
                          session_id=session.sid)
        if silent and approval_needed(by_policy(resumed), resumed, session):
            raise ConsentRequiredError("The user has not approved this client.")
        return resumed

    def _unusable(self, login: LoginState, session: Session | None,
                  may_use_connector: Callable[[str], bool]) -> OAuth2Error | None:
        if session is None:
            return LoginRequiredError("The user is not logged in.")
        if ASK_AGAIN & set(login.prompt.split()):
            return LoginRequiredError("The client asked to log in again.")
        hinted = login.extra.get(HINT_SUBJECT, "")
        if hinted and hinted != session.subject:
            return LoginRequiredError("The id_token_hint names another user than the one logged in.")
        if login.max_age is not None and self.clock() >= _at(session.auth_time) + timedelta(seconds=login.max_age):
            return LoginRequiredError("The login is older than max_age.")
        if not may_use_connector(session.connector_id):
            return LoginRequiredError("The user logged in with a connector this client may not use.")
        return None


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)
