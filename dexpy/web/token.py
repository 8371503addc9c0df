"""The token endpoint: authlib runs the grant; dexpy maps outages to `temporarily_unavailable`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from dexpy import loopwork
from dexpy.connectors.base import ConnectorError, ConnectorUnavailable
from dexpy.storage import Conflict, Unavailable
from dexpy.telemetry import events
from dexpy.web.adapter import FormRequest, oauth2_request
from dexpy.web.context import oauth_json_error, web

router = APIRouter()
Refused = Callable[[FormRequest, str], None]
log = logging.getLogger(__name__)


@router.post("/token")
async def token(request: Request) -> Response:
    state = web(request)
    oauth_request = await oauth2_request(request, state.provider.url("/token"))
    return await oauth_response(state.provider.server.create_token_response, oauth_request, refused=_refused)


def _refused(oauth_request: FormRequest, error: str) -> None:
    client = oauth_request.client
    client_id = client.get_client_id() if client is not None else oauth_request.form.get("client_id", "")
    events.token_refused(oauth_request.form.get("grant_type", ""), error, client_id=client_id)


async def oauth_response(endpoint: Callable[[FormRequest], tuple[int, Any, list[tuple[str, str]]]],
                         oauth_request: FormRequest, refused: Refused | None = None) -> Response:
    """Run an authlib-style endpoint as protocol work on the loop (dexpy.loopwork); a no-store JSON answer,
    outages as 503. `refused` hears the OAuth2 error of every answer but a 200."""
    try:
        status, body, headers = await loopwork.run(endpoint, oauth_request)
    except (Unavailable, ConnectorUnavailable) as exc:
        log.warning("%s failed: upstream unavailable: %s", oauth_request.uri, exc)
        return _unavailable(oauth_request, refused, "The service is temporarily unavailable.")
    except Conflict:
        return _unavailable(oauth_request, refused, "Too many concurrent updates; retry.")
    except ConnectorError as exc:  # the directory answered, but not with one usable user (e.g. two entries match)
        log.warning("%s failed: identity provider error: %s", oauth_request.uri, exc)
        if refused is not None:
            refused(oauth_request, "invalid_grant")
        return oauth_json_error(400, "invalid_grant", "The identity provider could not verify the user; "
                                "ask your administrator.")
    if status != 200 and refused is not None:
        refused(oauth_request, str(body.get("error", status)))
    return JSONResponse(dict(body), status_code=status, headers={**dict(headers), "Cache-Control": "no-store",
                                                                  "Pragma": "no-cache"})


def _unavailable(oauth_request: FormRequest, refused: Refused | None, description: str) -> Response:
    if refused is not None:
        refused(oauth_request, "temporarily_unavailable")
    return oauth_json_error(503, "temporarily_unavailable", description, {"Retry-After": "1"})


@router.api_route("/token", methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False)
def token_wrong_method() -> Response:
    return oauth_json_error(405, "invalid_request", "The token endpoint takes POST only.", {"Allow": "POST"})
