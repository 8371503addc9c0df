"""Domain events, reported by the core where the facts are known: one audit line and the matching metric.

    login("ldap", "success", client_id="kubectl", claims=claims)                          # password/callback
    token_issued("refresh_token", subject)                                                # Issuance
    token_refused("refresh_token", "invalid_grant", client_id="kubectl")                  # /token errors
"""

from __future__ import annotations

from dexpy.logs import audit
from dexpy.model import Claims
from dexpy.oidc.tokens import Subject
from dexpy.telemetry import LOGINS, REFRESH_FAILURES, TOKENS

GRANT_REFRESH = "refresh_token"


def _token_event(grant_type: str) -> str:
    return "refresh" if grant_type == GRANT_REFRESH else "token"


def login(connector_id: str, result: str, *, client_id: str, claims: Claims | None = None,
          ref: str = "") -> None:
    """A login attempt a connector checked: `result` is success (with the user's `claims`, audited as `user`
    and `user_id`), or invalid_credentials, unavailable (the upstream did not answer) or error (it answered
    with no usable user), audited by the typed name's reference `ref` (`user_ref`), never the name."""
    LOGINS.labels(connector=connector_id or "unknown", result=result).inc()
    who = {"user": claims.email or claims.username, "user_id": claims.user_id} if claims else {"user_ref": ref}
    audit("login", result=result, connector_id=connector_id, client_id=client_id, **who)


def token_issued(grant_type: str, subject: Subject) -> None:
    TOKENS.labels(grant_type=grant_type).inc()
    audit(_token_event(grant_type), result="success", grant_type=grant_type, user_id=subject.claims.user_id,
          connector_id=subject.connector_id, client_id=subject.client_id)


def token_refused(grant_type: str, reason: str, *, client_id: str) -> None:
    """The token endpoint answered an OAuth2 error (`reason`)."""
    if grant_type == GRANT_REFRESH:
        REFRESH_FAILURES.labels(reason=reason).inc()
    audit(_token_event(grant_type), result="failure", reason=reason, grant_type=grant_type, client_id=client_id)
