"""`dexpy serve | version | user-ref | login | kubeconfig | upgrade …`: thin wrappers over the package."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence

from dexpy import __version__
from dexpy import admin as admin_cli
from dexpy.kube import cli as kube_cli
from dexpy.upgrade import cli as upgrade_cli


def _serve(args: argparse.Namespace) -> int:
    if args.workers <= 1:
        return _serve_here(args)
    # prometheus_client keeps every value in files of this directory (its multiprocess mode, which /metrics
    # merges) only when the variable is set before it is first imported: so before dexpy.server is.
    directory = tempfile.mkdtemp(prefix="dexpy-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        return _serve_here(args)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _serve_here(args: argparse.Namespace) -> int:
    from dexpy.config import ConfigError, load_config, with_overrides
    from dexpy.logs import configure as configure_logging
    from dexpy.server import StartupError, serve

    try:
        config = with_overrides(load_config(args.config), web_http=args.web_http_addr, web_https=args.web_https_addr,
                                telemetry=args.telemetry_addr, grpc=args.grpc_addr)
    except ConfigError as exc:
        print(f"dexpy: invalid config: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.logger)
    try:
        return serve(config, started=time.monotonic(), workers=args.workers)
    except StartupError as exc:
        print(f"dexpy: cannot start: {exc}", file=sys.stderr)
        return 1


def _version(args: argparse.Namespace) -> int:
    print(f"dexpy version {__version__}")
    return 0


def _user_ref(args: argparse.Namespace) -> int:
    from dexpy.security.usernames import user_ref

    for name in args.names:
        print(user_ref(name))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dexpy", description="An OpenID Connect provider for Kubernetes.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the identity provider")
    serve.add_argument("config", help="path to the YAML config file (Dex's format)")
    serve.add_argument("--web-http-addr", help="override web.http")
    serve.add_argument("--web-https-addr", help="override web.https")
    serve.add_argument("--telemetry-addr", help="override telemetry.http")
    serve.add_argument("--grpc-addr", help="override grpc.addr")
    serve.add_argument("--workers", type=int, default=1,
                       help="serving processes (one per core; more than one needs sqlite3 or kubernetes storage)")
    serve.set_defaults(func=_serve)
    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=_version)
    ref = sub.add_parser("user-ref", help="print the reference failed-login audit lines and lockout counters "
                                          "use for a user name")
    ref.add_argument("names", nargs="+", metavar="NAME")
    ref.set_defaults(func=_user_ref)
    admin_cli.register(sub)
    kube_cli.register(sub)
    upgrade_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    return int(args.func(args))
