"""`dexpy serve --workers N` refuses a storage its processes cannot share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fixtures.dexpy_server import write_config


def test_workers_refuse_memory_storage(tmp_path: Path) -> None:
    config = write_config(tmp_path)  # storage: memory
    done = subprocess.run([sys.executable, "-m", "dexpy", "serve", str(config), "--workers", "2"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "several workers need a storage they share" in done.stderr
