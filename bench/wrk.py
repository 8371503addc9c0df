"""Load from a separate process: wrk (C, keep-alive connections) for fixed-duration runs of one request."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("lua") / "request.lua"
CONNECTIONS = 64
THREADS = 2
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class Request:
    url: str
    method: str = "GET"
    body: str = ""
    authorization: str = ""


@dataclass(frozen=True)
class Result:
    """Medians over the repetitions: requests/s, p99 latency (ms), and the share of non-2xx/3xx answers; and the
    answers of all repetitions together."""

    rps: float
    p99_ms: float
    error_ratio: float
    answers: int = 0

    @classmethod
    def median_of(cls, runs: Sequence[Result]) -> Result:
        """The medians of the runs' req/s and p99, their worst error ratio, and all their answers."""
        return cls(rps=statistics.median(r.rps for r in runs), p99_ms=statistics.median(r.p99_ms for r in runs),
                   error_ratio=max(r.error_ratio for r in runs), answers=sum(r.answers for r in runs))


def debian_tool(command: str, package: str) -> str:
    """The path of `command`; installs its Debian `package` when it is missing (the bench runs as root)."""
    path = shutil.which(command)
    if path is None:
        subprocess.run(["apt-get", "install", "-y", "-q", package], check=True, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        path = shutil.which(command)
    if path is None:
        raise RuntimeError(f"{command} is not installed and apt-get could not install {package}")
    return path


def _millis(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse(output: str) -> tuple[float, float, float, int]:
    """(requests/s, p99 ms, error ratio, answers) from wrk's `--latency` report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    p99 = _millis(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1])  # type: ignore[index]
    total = int(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failed = (int(non_2xx[1]) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return rps, p99, failed / total if total else 1.0, total


def run_once(request: Request, seconds: float, connections: int = CONNECTIONS) -> Result:
    env = {**os.environ, "BENCH_METHOD": request.method, "BENCH_BODY": request.body,
           "BENCH_AUTH": request.authorization}
    command = [debian_tool("wrk", "wrk"), f"-t{THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "-s", str(SCRIPT), request.url]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env, timeout=seconds + 30)
    return Result(*parse(done.stdout))


def run(request: Request, seconds: float, repetitions: int, connections: int = CONNECTIONS) -> Result:
    return Result.median_of([run_once(request, seconds, connections) for _ in range(repetitions)])
