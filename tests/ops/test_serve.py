"""`dexpy serve` as a process: web, telemetry and gRPC listeners up, JSON logs, and a clean exit on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx

from dexpy.api import API_VERSION, pb, rpc
from tests.fixtures.dexpy_server import free_port, write_config


def test_serve_runs_every_listener_and_stops_on_sigterm(tmp_path: Path) -> None:
    telemetry, grpc_port = free_port(), free_port()
    config = write_config(tmp_path, f"telemetry:\n  http: 127.0.0.1:{telemetry}\ngrpc:\n  addr: 127.0.0.1:{grpc_port}\n"
                                    "logger:\n  format: json\n  level: info\n")
    issuer = next(line.split(": ", 1)[1] for line in config.read_text().splitlines() if line.startswith("issuer:"))
    process = subprocess.Popen([sys.executable, "-m", "dexpy", "serve", str(config)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{telemetry}/healthz/ready").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "dexpy did not become ready"
                time.sleep(0.1)
        assert httpx.get(f"{issuer}/healthz").status_code == 200
        stub = rpc.DexStub(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
        assert stub.GetVersion(pb.VersionReq(), timeout=5).api == API_VERSION
        metrics = httpx.get(f"http://127.0.0.1:{telemetry}/metrics").text
        assert 'http_requests_total{code="200",handler="/healthz",method="GET"} 1.0' in metrics
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
        _, err = process.communicate()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    messages = [line["msg"] for line in lines]
    assert any(m.startswith("dexpy ready on") for m in messages)
    assert "received SIGTERM; shutting down" in messages
