"""The build step that compiles `api.proto` into `api_pb2.py` and `api_pb2_grpc.py`, so an installed dexpy
needs no grpcio-tools. pyproject.toml makes `BuildPy` setuptools' `build_py`; setuptools loads this file by
path before dexpy is importable, so it may import only the standard library and the build requirements."""

from __future__ import annotations

from pathlib import Path

from grpc_tools import protoc
from setuptools.command.build_py import build_py

SOURCE_ROOT = Path(__file__).resolve().parents[2]
PROTO = "dexpy/api/api.proto"
"""Relative to the source root, which is also protoc's include path: the generated stubs then import the
messages as `dexpy.api.api_pb2`."""


def generate(out: Path) -> None:
    """Write dexpy/api/api_pb2.py and api_pb2_grpc.py under `out`."""
    args = ["protoc", f"-I{SOURCE_ROOT}", f"--python_out={out}", f"--grpc_python_out={out}", str(SOURCE_ROOT / PROTO)]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {PROTO}")


class BuildPy(build_py):
    """setuptools' build_py plus the generated modules: into the wheel's build directory, or, for an editable
    install (PEP 660), next to api.proto in the source tree, where the editable finder imports them from."""

    def run(self) -> None:
        super().run()  # copies the source tree first, so a stale in-tree copy cannot overwrite a fresh one
        generate(SOURCE_ROOT if self.editable_mode else Path(self.build_lib))
