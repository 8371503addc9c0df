"""`dexpy serve`: run the web app on its listeners (http, https) in one event loop."""

from __future__ import annotations

import asyncio
import logging
import time

import uvicorn

from dexpy.config import Config
from dexpy.runtime import Runtime
from dexpy.web.app import create_app

log = logging.getLogger("dexpy")


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def listeners(config: Config, app: object) -> list[uvicorn.Server]:
    servers = []
    common = {"log_config": None, "access_log": False, "lifespan": "off", "server_header": False}
    if config.web.http:
        host, port = split_addr(config.web.http)
        servers.append(uvicorn.Server(uvicorn.Config(app, host=host, port=port, **common)))  # type: ignore[arg-type]
    if config.web.https:
        host, port = split_addr(config.web.https)
        servers.append(uvicorn.Server(uvicorn.Config(app, host=host, port=port, ssl_certfile=config.web.tls_cert,  # type: ignore[arg-type]
                                                     ssl_keyfile=config.web.tls_key, **common)))
    return servers


def serve(config: Config, *, started: float) -> int:
    runtime = Runtime.open(config)
    app = create_app(runtime)
    servers = listeners(config, app)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            tasks = [asyncio.create_task(s.serve()) for s in servers]
            while not all(s.started for s in servers):
                await asyncio.sleep(0.01)
            addrs = ", ".join(a for a in (config.web.http, config.web.https) if a)
            log.info("dexpy ready on %s (issuer %s) in %.2fs", addrs, config.issuer, time.monotonic() - started)
            await asyncio.gather(*tasks)

    asyncio.run(run())
    return 0
