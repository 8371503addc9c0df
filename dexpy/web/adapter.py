"""The thin adapter between Starlette requests and authlib's framework-free OAuth2Request."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from starlette.datastructures import FormData, Headers
from starlette.requests import Request


class FormPayload(OAuth2Payload):
    def __init__(self, form: FormData) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in form.multi_items():
            if isinstance(value, str):
                self._datalist[key].append(value)
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):
    def __init__(self, uri: str, headers: Headers, form: FormData) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = FormPayload(form)

    @property
    def form(self) -> dict[str, Any]:
        return self.payload.data

    @property
    def args(self) -> dict[str, Any]:
        return {}


async def oauth2_request(request: Request, public_url: str) -> FormRequest:
    """Build the authlib request for a form POST; `public_url` is the endpoint's URL under the issuer."""
    form = await request.form()
    return FormRequest(public_url, request.headers, form)  # case-insensitive, as authlib expects
