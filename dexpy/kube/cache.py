"""The token cache: one private JSON file per (issuer, client id) under the user's cache directory."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from dexpy.kube.files import write_atomic


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dexpy"


@dataclass(frozen=True)
class CachedTokens:
    issuer: str
    client_id: str
    id_token: str
    refresh_token: str = ""


class TokenCache:
    """Files are 0600 in a 0700 directory and replaced atomically; an unreadable file counts as empty."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "tokens"

    def path_for(self, issuer: str, client_id: str) -> Path:
        key = hashlib.sha256(f"{issuer}\0{client_id}".encode()).hexdigest()[:32]
        return self.directory / f"{key}.json"

    def load(self, issuer: str, client_id: str) -> CachedTokens | None:
        try:
            raw = json.loads(self.path_for(issuer, client_id).read_text(encoding="utf-8"))
            tokens = CachedTokens(**raw)
        except (OSError, ValueError, TypeError):
            return None
        if (tokens.issuer, tokens.client_id) != (issuer, client_id) or not tokens.id_token:
            return None
        return tokens

    def save(self, tokens: CachedTokens) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        write_atomic(self.path_for(tokens.issuer, tokens.client_id), json.dumps(asdict(tokens)), mode=0o600)
