"""The token endpoint: authlib runs the grant; dexpy maps outages to `temporarily_unavailable`."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from dexpy.connectors.base import ConnectorUnavailable
from dexpy.storage import Conflict, Unavailable
from dexpy.web.adapter import oauth2_request
from dexpy.web.context import oauth_json_error, web

router = APIRouter()
log = logging.getLogger(__name__)


@router.post("/token")
async def token(request: Request) -> Response:
    provider = web(request).provider
    oauth_request = await oauth2_request(request, provider.url("/token"))
    try:
        status, body, headers = await run_in_threadpool(provider.server.create_token_response, oauth_request)
    except (Unavailable, ConnectorUnavailable) as exc:
        log.warning("token request failed: upstream unavailable: %s", exc)
        return oauth_json_error(503, "temporarily_unavailable", "The service is temporarily unavailable.",
                                {"Retry-After": "1"})
    except Conflict:
        return oauth_json_error(503, "temporarily_unavailable", "Too many concurrent updates; retry.",
                                {"Retry-After": "1"})
    return JSONResponse(dict(body), status_code=status, headers={**dict(headers), "Cache-Control": "no-store",
                                                                  "Pragma": "no-cache"})


@router.api_route("/token", methods=["GET", "PUT", "DELETE", "PATCH"], include_in_schema=False)
def token_wrong_method() -> Response:
    return oauth_json_error(405, "invalid_request", "The token endpoint takes POST only.", {"Allow": "POST"})
