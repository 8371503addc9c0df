"""`dexpy serve --workers N`: N processes accepting on the same listening sockets (pre-fork), to use more than
one core. The parent binds the web listeners, forks the workers, forwards SIGTERM/SIGINT to them and waits;
each worker opens its own runtime after the fork, so the storage must be shared between processes."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable
from types import FrameType

BACKLOG = 2048


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket the workers inherit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def run_workers(count: int, worker: Callable[[int], int]) -> int:
    """Run `worker(index)` in `count` forked processes; return the worst exit code. When one worker fails,
    the others are stopped."""
    children: set[int] = set()
    for index in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = worker(index)
            finally:
                os._exit(code)
        children.add(pid)

    def forward(sig: int, frame: FrameType | None) -> None:
        for child in children:
            os.kill(child, sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    worst = 0
    while children:
        pid, status = os.wait()
        children.discard(pid)
        code = _exit_code(status)
        if code and not worst:
            forward(signal.SIGTERM, None)
        worst = max(worst, code)
    return worst
