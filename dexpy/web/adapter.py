"""The thin adapter between Starlette requests and authlib's framework-free OAuth2Request."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from starlette.datastructures import Headers
from starlette.requests import Request


class FormPayload(OAuth2Payload):
    def __init__(self, fields: Iterable[tuple[str, Any]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in fields:
            if isinstance(value, str):  # a multipart file upload is no OAuth parameter
                self._datalist[key].append(value)
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):
    def __init__(self, uri: str, headers: Headers, fields: Iterable[tuple[str, Any]]) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = FormPayload(fields)

    @property
    def form(self) -> dict[str, Any]:
        return self.payload.data

    @property
    def args(self) -> dict[str, Any]:
        return {}


async def oauth2_request(request: Request, public_url: str) -> FormRequest:
    """Build the authlib request for a form POST; `public_url` is the endpoint's URL under the issuer."""
    return FormRequest(public_url, request.headers, await form_fields(request))  # case-insensitive, as authlib expects


async def form_fields(request: Request) -> list[tuple[str, Any]]:
    """The fields of a form POST. The urlencoded body every OAuth client sends is parsed directly (as Starlette
    does: percent-escapes as UTF-8, raw bytes as Latin-1), which costs a fraction of the general form parser;
    multipart bodies still go through it."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return parse_qsl((await request.body()).decode("latin-1"), keep_blank_values=True)
    return list((await request.form()).multi_items())
