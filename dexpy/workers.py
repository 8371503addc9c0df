"""`dexpy serve --workers N`: N forked processes, to use more than one core. Each worker opens its own runtime
(storage connections, threads, keys) after the fork and binds its own listening sockets with SO_REUSEPORT, so
the kernel spreads new connections over the workers' accept queues; the parent forwards SIGTERM/SIGINT and
waits. The storage must be shared between processes."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable
from types import FrameType

BACKLOG = 2048


def bind(host: str, port: int, *, shared: bool = True) -> socket.socket:
    """A listening TCP socket; when `shared`, one that other workers may bind too (SO_REUSEPORT), else one that
    refuses an address another process holds.

    The protocol is named (IPPROTO_TCP, not 0): asyncio sets TCP_NODELAY only on sockets whose `proto` says
    TCP, and without it every small answer waits out Nagle and the client's delayed ACK (~40 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _exit_code(status: int, forwarded: set[int]) -> int:
    """The child's exit code; 0 when it died of a signal the parent forwarded (stopped while starting, before
    it handled signals itself)."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return code
    return 0 if -code in forwarded else 128 - code


def run_workers(count: int, worker: Callable[[int], int]) -> int:
    """Run `worker(index)` in `count` forked processes; return the worst exit code. When one worker fails,
    the others are stopped.

    SIGTERM/SIGINT are blocked while forking, so a signal that arrives during start-up is forwarded to every
    worker once they all exist, never lost and never the parent's death; each child restores the default
    handlers before unblocking, so it does not run the parent's forwarding."""
    children: set[int] = set()
    forwarded: set[int] = set()
    stop_signals = {signal.SIGTERM, signal.SIGINT}

    def forward(sig: int, frame: FrameType | None) -> None:
        forwarded.add(sig)
        for child in children:
            os.kill(child, sig)

    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    for sig in stop_signals:
        signal.signal(sig, forward)
    for index in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for sig in stop_signals:
                    signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
                code = worker(index)
            finally:
                os._exit(code)
        children.add(pid)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)
    worst = 0
    while children:
        pid, status = os.wait()
        children.discard(pid)
        code = _exit_code(status, forwarded)
        if code and not worst:
            forward(signal.SIGTERM, None)
        worst = max(worst, code)
    return worst
