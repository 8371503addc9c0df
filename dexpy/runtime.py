"""Assembles a running dexpy from a Config: storage with the config's static objects overlaid, the provider,
and the background loops (key rotation check, garbage collection)."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field

from dexpy.clock import Clock, system_clock
from dexpy.config import Config, StaticClient, StaticPassword
from dexpy.connectors.local import LOCAL_CONNECTOR_TYPE
from dexpy.model import Client, ConnectorRecord, Password
from dexpy.oidc.provider import Provider
from dexpy.storage import Storage, StorageError, open_storage
from dexpy.storage.gc import GarbageCollector
from dexpy.storage.static import StaticStorage

log = logging.getLogger(__name__)

KEY_CHECK_INTERVAL = 30.0
"""Seconds between checks whether the signing keys are due to rotate (Dex checks every 30 s)."""


def static_client(c: StaticClient) -> Client:
    return Client(
        id=c.id,
        name=c.name,
        secret=c.secret,
        redirect_uris=list(c.redirect_uris),
        trusted_peers=list(c.trusted_peers),
        public=c.public,
        logo_url=c.logo_url,
        post_logout_redirect_uris=list(c.post_logout_redirect_uris),
        backchannel_logout_uri=c.backchannel_logout_uri,
        allowed_connectors=list(c.allowed_connectors),
        client_credentials_groups=list(c.client_credentials_claims.get("groups", [])),
    )


def static_password(p: StaticPassword) -> Password:
    return Password(
        email=p.email.lower(),
        hash=p.hash.encode(),
        username=p.username,
        user_id=p.user_id,
        name=p.name,
        preferred_username=p.preferred_username,
        email_verified=p.email_verified,
        groups=list(p.groups),
    )


def static_connectors(config: Config) -> list[ConnectorRecord]:
    records = [
        ConnectorRecord(id=c.id, type=c.type, name=c.name, config=json.dumps(c.config).encode(),
                        grant_types=list(c.grant_types))
        for c in config.connectors
    ]
    if config.enable_password_db:
        records.append(ConnectorRecord(id=LOCAL_CONNECTOR_TYPE, type=LOCAL_CONNECTOR_TYPE, name="Email"))
    return records


def build_storage(config: Config) -> Storage:
    inner = open_storage(config.storage)
    return StaticStorage(
        inner,
        clients=[static_client(c) for c in config.static_clients],
        passwords=[static_password(p) for p in config.static_passwords],
        connectors=static_connectors(config),
    )


@dataclass
class Runtime:
    config: Config
    storage: Storage
    provider: Provider
    clock: Clock = system_clock
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _gc: GarbageCollector | None = None

    @classmethod
    def open(cls, config: Config, *, storage: Storage | None = None, clock: Clock = system_clock) -> Runtime:
        storage = storage or build_storage(config)
        provider = Provider(config, storage, clock)
        provider.connectors.open_all()
        provider.keys.refresh()
        return cls(config=config, storage=storage, provider=provider, clock=clock)

    def start_background(self) -> None:
        self._gc = GarbageCollector(self.storage, self.clock, refresh_policy=self.config.expiry.refresh_tokens)
        self._gc.start()
        thread = threading.Thread(target=self._key_loop, name="dexpy-keys", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _key_loop(self) -> None:
        while not self._stop.wait(KEY_CHECK_INTERVAL):
            try:
                self.provider.keys.refresh()
            except StorageError as exc:
                log.warning("signing key check failed: %s", exc)

    def close(self) -> None:
        self._stop.set()
        if self._gc is not None:
            self._gc.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        self.provider.connectors.close_all()
        self.storage.close()

