"""Redirect URI rules (Dex `validateRedirectURI`), and the URL a client gets its answer at.

Exact string match always; a public client with no registered URIs may also use the out-of-band URN, the
device callback and any plain-http loopback URL (RFC 8252 §7.3: any port, any path).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlencode, urlsplit, urlunsplit

from dexpy.model import Client

OOB_URI = "urn:ietf:wg:oauth:2.0:oob"
DEVICE_CALLBACK = "/device/callback"


def redirect_uri_allowed(client: Client, redirect_uri: str, device_callback_url: str) -> bool:
    if redirect_uri in client.redirect_uris:
        return True
    by_path = {DEVICE_CALLBACK, urlsplit(device_callback_url).path}
    if redirect_uri == device_callback_url and by_path & set(client.redirect_uris):
        return True  # Dex configs register the device callback by its path
    if not client.public or client.redirect_uris:
        return False
    if redirect_uri in (OOB_URI, device_callback_url):
        return True
    return is_loopback_http(redirect_uri)


def is_loopback_http(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return False
    if parts.scheme != "http" or not host or parts.username is not None or parts.password is not None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def with_params(uri: str, params: dict[str, str], *, fragment: bool = False) -> str:
    """`uri` with `params` added to its query (or fragment), keeping what it has."""
    parts = urlsplit(uri)
    encoded = urlencode({k: v for k, v in params.items() if v})
    if fragment:
        return urlunsplit(parts._replace(fragment=encoded))
    query = f"{parts.query}&{encoded}" if parts.query else encoded
    return urlunsplit(parts._replace(query=query))
