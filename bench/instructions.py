"""Instructions per answer on dexpy's request paths, counted by valgrind's callgrind.

The count repeats to about 0.1% from run to run, whatever else the machine is doing, where wrk's req/s moves by
several percent between runs. It tells whether a small change to a request path pays (run it on two checkouts);
it compares dexpy with itself, not with other servers, and instructions are not time (a cache miss costs
none).

    python -m bench.instructions                    # every scenario
    python -m bench.instructions refresh login      # some of them
    python -m bench.instructions --answers 50

The server is `dexpy serve --workers 1` (a worker's code path) under callgrind, on the bench's config. For each
scenario the counters are zeroed, `n` requests are made one after another on one keep-alive connection (for
logins, `n` logins), and the counts are dumped; then the same with `3n`. The difference of the two dumps over
`2n` is what one answer costs, without what zeroing and dumping cost.

RSA signing (OpenSSL's `EVP_PKEY_sign` and what it calls) is counted apart. Under valgrind OpenSSL takes a path
for the instructions valgrind emulates rather than the CPU's fastest, so that figure stands for no real time;
and it dwarfs the rest (about 6 M instructions a signature, against about 1.5 M for the rest of a refresh).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import login, run, servers
from bench.servers import Server
from bench.wrk import Request, debian_tool

SCENARIOS = {
    "discovery": "discovery",
    "jwks": "jwks",
    "refresh": "token refresh_token",
    "client_credentials": "token client_credentials",
    "userinfo": "userinfo",
    "login": "login (auth code+PKCE)",
}
"""The names taken on the command line, and the bench's names for them."""

SIGNING = "EVP_PKEY_sign"
READY_TIMEOUT = 300
"""Seconds `dexpy serve` may take to answer under valgrind (about 15 here; everything runs some 50 times slower)."""


@dataclass(frozen=True)
class Counted:
    """Instructions per answer (a login counts as one): outside RSA signing, and inside it."""

    instructions: float
    signing: float


@dataclass(frozen=True)
class Dump:
    """One callgrind dump: all instructions since the counters were zeroed, and those inside `SIGNING`."""

    total: int
    signing: int

    @classmethod
    def read(cls, path: Path) -> Dump:
        """Parse callgrind's output format: the `summary:` line, and the inclusive cost of every call to
        `SIGNING` (the cost line that follows a `calls=` line names the callee's whole cost for that call)."""
        names: dict[str, str] = {}
        total = signing = 0
        callee = ""
        call_cost_next = False
        for line in path.read_text().splitlines():
            if call_cost_next:
                call_cost_next = False
                if callee == SIGNING:
                    signing += int(line.split()[1])
            elif line.startswith("summary:"):
                total = int(line.split()[1])
            elif line.startswith(("fn=", "cfn=")):
                name = _function_name(line.split("=", 1)[1], names)
                if line.startswith("cfn="):
                    callee = name
            elif line.startswith("calls="):
                call_cost_next = True
        return cls(total, signing)


_COMPRESSED = re.compile(r"\((\d+)\)(?: (.*))?")


def _function_name(spec: str, names: dict[str, str]) -> str:
    """A function's name from callgrind's compressed form: `(id) name` defines the id, `(id)` refers to it."""
    compressed = _COMPRESSED.fullmatch(spec)
    if compressed is None:
        return spec
    number, name = compressed.groups()
    if name is not None:
        names[number] = name
    return names[number]


class Callgrind:
    """The counters of one process running under callgrind, zeroed and dumped by `callgrind_control`."""

    def __init__(self, directory: Path) -> None:
        self.out = directory / "callgrind.out"
        self.control = debian_tool("callgrind_control", "valgrind")
        self.command = [debian_tool("valgrind", "valgrind"), "--tool=callgrind", f"--callgrind-out-file={self.out}",
                        f"--log-file={directory / 'valgrind.log'}"]
        self._dumps = 0

    def measure(self, pid: int, work: Callable[[], None]) -> Dump:
        """The instructions the process spent while `work` ran."""
        subprocess.run([self.control, "--zero", str(pid)], check=True, capture_output=True)
        work()
        subprocess.run([self.control, "--dump", str(pid)], check=True, capture_output=True)
        self._dumps += 1
        return Dump.read(Path(f"{self.out}.{self._dumps}"))


def requests_of(server: Server, plan: dict[str, Request | None], http: httpx.Client,
                scenario: str) -> Callable[[int], None]:
    """Something that makes `n` answers of `scenario` one after another, as the bench's load makes them: the
    bench's request from `plan` on `http`'s keep-alive connection, or whole logins."""
    if scenario == "login":
        async def logins(n: int) -> None:
            async with httpx.AsyncClient(timeout=120) as browser:
                for _ in range(n):
                    await login.login(browser, server)
        return lambda n: asyncio.run(logins(n))
    request = plan[SCENARIOS[scenario]]
    assert request is not None
    headers = {"Authorization": request.authorization} if request.authorization else {}
    if request.body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"

    def answers(n: int) -> None:
        for _ in range(n):
            http.request(request.method, request.url, content=request.body or None, headers=headers) \
                .raise_for_status()
    return answers


def count(scenarios: list[str], answers: int) -> dict[str, Counted]:
    """Instructions per answer of each scenario, on one `dexpy serve` under callgrind."""
    counted = {}
    with tempfile.TemporaryDirectory(prefix="dexpy-instructions-") as tmp:
        callgrind = Callgrind(Path(tmp))
        with servers.dexpy(Path(tmp), workers=1, wrapper=callgrind.command, ready_timeout=READY_TIMEOUT) as server, \
                httpx.Client(timeout=120) as http:
            plan = run.requests(server) if set(scenarios) - {"login"} else {}  # its tokens come from a login
            for scenario in scenarios:
                make = requests_of(server, plan, http, scenario)
                make(min(answers, 20))  # warm-up: imports, templates, caches, the connection
                few = callgrind.measure(server.pid, lambda: make(answers))
                more = callgrind.measure(server.pid, lambda: make(3 * answers))
                counted[scenario] = Counted(
                    instructions=((more.total - more.signing) - (few.total - few.signing)) / (2 * answers),
                    signing=(more.signing - few.signing) / (2 * answers))
    return counted


def report(counted: dict[str, Counted], answers: int) -> str:
    lines = [f"{'scenario':<28}{'instructions':>14}{'RSA signing':>14}",
             *(f"{SCENARIOS[name]:<28}{c.instructions:>14,.0f}{c.signing:>14,.0f}" for name, c in counted.items()),
             f"(per answer, a login as one; dexpy serve --workers 1 under callgrind, {answers} and {3 * answers} "
             "answers;",
             " RSA signing: OpenSSL's EVP_PKEY_sign on valgrind's emulated CPU, not a measure of time)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="instructions per answer on dexpy's request paths (callgrind)")
    parser.add_argument("scenarios", nargs="*", metavar="scenario",
                        help=f"some of: {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--answers", type=int, default=100, help="n: the two counts take n and 3n answers")
    args = parser.parse_args()
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
    print(report(count(args.scenarios or list(SCENARIOS), args.answers), args.answers))


if __name__ == "__main__":
    main()
