"""Where protocol work runs (dexpy.web.offload): on the event loop for local storage, in protocol threads for
storage whose reads may need an API round trip (Kubernetes), where a loop busy with grants would slow each one."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

from dexpy.web import offload


def test_local_storage_works_on_the_loop_and_api_backed_storage_in_protocol_threads() -> None:
    local, api_backed = SimpleNamespace(stale_copies=False), SimpleNamespace(stale_copies=True)

    async def main() -> tuple[int, int, int]:
        try:
            on_local = await offload.protocol_runner(local)(threading.get_ident)  # type: ignore[arg-type]
            on_api = await offload.protocol_runner(api_backed)(threading.get_ident)  # type: ignore[arg-type]
            return threading.get_ident(), on_local, on_api
        finally:
            offload.close()

    loop_thread, on_local, on_api = asyncio.run(main())
    assert on_local == loop_thread != on_api


def test_an_apps_threads_end_with_it(tmp_path) -> None:
    """Each app's loop has its own protocol and wait threads (every test server is one): they end when its
    lifespan does."""
    from tests.fixtures.dexpy_server import run_dexpy
    from tests.fixtures.rp import RelyingParty

    def ours() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith(("dexpy-protocol", "dexpy-wait"))}

    before = ours()
    with run_dexpy(tmp_path, "oauth2:\n  passwordConnector: local\n") as server:
        rp = RelyingParty(server.issuer)
        answer = rp.token(grant_type="password", username="admin@example.com", password="password", scope="openid")
        assert answer.status_code == 200
        assert ours() - before  # bcrypt waited in a wait thread
    deadline = time.monotonic() + 5
    while ours() - before:
        assert time.monotonic() < deadline, "threads outlived their app"
        time.sleep(0.01)
