"""The issuer as seen by the login client: discovery, the token endpoint, device authorization, ID-token checks."""

from __future__ import annotations

import base64
import json
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from dexpy.clock import Clock
from dexpy.kube.errors import UserError

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_SIGNING_ALGS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA")


class OAuthError(UserError):
    """An error response from the token or device endpoint (RFC 6749 §5.2, RFC 8628 §3.5)."""

    def __init__(self, endpoint: str, code: str, description: str = "") -> None:
        detail = f"{code}: {description}" if description else code
        super().__init__(f"{endpoint} refused the request ({detail})")
        self.code = code


@dataclass(frozen=True)
class TokenResponse:
    id_token: str
    refresh_token: str = ""


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


def http_client(ca_file: str | None, timeout: float = 30.0) -> httpx.Client:
    """An httpx client trusting `ca_file` (PEM) instead of the system store when it is given."""
    verify: ssl.SSLContext | bool = True
    if ca_file:
        try:
            verify = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise UserError(f"cannot load certificate authority {ca_file}: {exc}") from None
    return httpx.Client(verify=verify, timeout=timeout, follow_redirects=False)


def unverified_expiry(id_token: str) -> datetime:
    """The `exp` of a token that was verified when it was stored (the cache must work offline)."""
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), timezone.utc)
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"malformed ID token: {exc}") from None


class Provider:
    def __init__(self, issuer: str, client_id: str, client_secret: str, http: httpx.Client, clock: Clock) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = http
        self.clock = clock
        self._metadata: dict[str, Any] | None = None

    def _send(self, method: str, url: str, form: dict[str, str] | None = None) -> httpx.Response:
        try:
            return self.http.request(method, url, data=form)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL: a malformed --issuer
            raise UserError(f"cannot reach {url}: {exc}") from None

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise UserError(f"{response.request.url} answered HTTP {response.status_code} without a JSON object")
        return body

    @property
    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            response = self._send("GET", url)
            if response.status_code != 200:
                raise UserError(f"{url} answered HTTP {response.status_code}: is {self.issuer} an OpenID issuer?")
            metadata = self._json(response)
            if metadata.get("issuer") != self.issuer:
                raise UserError(f"issuer mismatch: asked for {self.issuer}, discovery says {metadata.get('issuer')}")
            self._metadata = metadata
        return self._metadata

    def endpoint(self, name: str) -> str:
        url = self.metadata.get(name)
        if not isinstance(url, str) or not url:
            raise UserError(f"issuer {self.issuer} does not advertise {name}")
        return url

    def _client_form(self, **fields: str) -> dict[str, str]:
        form = {"client_id": self.client_id, **fields}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        return form

    def _post(self, endpoint_name: str, form: dict[str, str]) -> dict[str, Any]:
        url = self.endpoint(endpoint_name)
        response = self._send("POST", url, self._client_form(**form))
        body = self._json(response)
        if response.status_code != 200 or "error" in body:
            raise OAuthError(url, str(body.get("error", f"HTTP {response.status_code}")),
                             str(body.get("error_description", "")))
        return body

    def _tokens(self, form: dict[str, str]) -> TokenResponse:
        body = self._post("token_endpoint", form)
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise UserError(f"issuer {self.issuer} returned no ID token (is the openid scope allowed?)")
        return TokenResponse(id_token=id_token, refresh_token=str(body.get("refresh_token") or ""))

    def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> TokenResponse:
        return self._tokens({"grant_type": "authorization_code", "code": code,
                             "redirect_uri": redirect_uri, "code_verifier": verifier})

    def refresh(self, refresh_token: str) -> TokenResponse:
        tokens = self._tokens({"grant_type": "refresh_token", "refresh_token": refresh_token})
        return tokens if tokens.refresh_token else TokenResponse(tokens.id_token, refresh_token)

    def start_device(self, scopes: list[str], challenge: str) -> DeviceAuthorization:
        body = self._post("device_authorization_endpoint", {
            "scope": " ".join(scopes), "code_challenge": challenge, "code_challenge_method": "S256"})
        try:
            return DeviceAuthorization(
                device_code=str(body["device_code"]), user_code=str(body["user_code"]),
                verification_uri=str(body["verification_uri"]),
                verification_uri_complete=str(body.get("verification_uri_complete") or ""),
                expires_in=int(body["expires_in"]), interval=int(body.get("interval") or 5))
        except (KeyError, ValueError) as exc:
            raise UserError(f"malformed device authorization response: missing or bad {exc}") from None

    def poll_device(self, device_code: str, verifier: str) -> TokenResponse:
        return self._tokens({"grant_type": DEVICE_CODE_GRANT, "device_code": device_code, "code_verifier": verifier})

    def verify_id_token(self, id_token: str, nonce: str | None) -> dict[str, Any]:
        """Check the signature against the issuer's JWKS, then iss, aud, exp and (for a new login) nonce."""
        response = self._send("GET", self.endpoint("jwks_uri"))
        try:
            keys = KeySet.import_key_set(self._json(response))  # type: ignore[arg-type]
            advertised = self.metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
            token = jwt.decode(id_token, keys, algorithms=[a for a in advertised if a in _SIGNING_ALGS])
            options: dict[str, Any] = {"iss": {"essential": True, "value": self.issuer},
                                       "aud": {"essential": True, "value": self.client_id},
                                       "exp": {"essential": True}}
            if nonce is not None:
                options["nonce"] = {"essential": True, "value": nonce}
            jwt.JWTClaimsRegistry(now=int(self.clock().timestamp()), leeway=30, **options).validate(token.claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise UserError(f"ID token from {self.issuer} rejected: {exc}") from None
        return token.claims
