"""Token introspection (RFC 7662) at Dex's `/token/introspect`."""

from __future__ import annotations

from dexpy.web.revoke import token_management_router

router = token_management_router("/token/introspect", "introspection")
