"""The `dexpy login` and `dexpy kubeconfig` subcommands; `register` adds them to dexpy's argparse tree."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dexpy.kube import kubeconfig
from dexpy.kube.cache import default_cache_dir
from dexpy.kube.credential import exec_credential, requested_api_version
from dexpy.kube.errors import UserError
from dexpy.kube.login import DEFAULT_SCOPES, LoginOptions, Seams, get_id_token, say

DEFAULT_CLIENT_ID = "kubectl"


def register(subparsers: Any) -> None:
    login = subparsers.add_parser(
        "login", help="kubectl exec credential plugin: print an ExecCredential with an ID token",
        description="Print a client.authentication.k8s.io ExecCredential holding an ID token from the issuer, "
                    "from the cache when it is still valid, else by refresh, else by a new login.")
    _add_login_flags(login)
    login.add_argument("--cache-dir", type=Path, default=None,
                       help="token cache directory (default: $XDG_CACHE_HOME/dexpy or ~/.cache/dexpy)")
    login.add_argument("--no-browser", action="store_true",
                       help="do not launch a browser: print the login URL and wait for the redirect")
    login.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the browser login")
    login.set_defaults(func=run_login)

    config = subparsers.add_parser(
        "kubeconfig", help="add a user (and cluster, context) running `dexpy login` to a kubeconfig",
        description="Merge a user entry that runs `dexpy login`, and optionally a cluster and a context, "
                    "into a kubeconfig without touching its other entries.")
    _add_login_flags(config)
    config.add_argument("--user", default="dexpy", help="name of the user entry (default: dexpy)")
    config.add_argument("--cluster-name", default="", help="cluster entry to write (or reuse) and make a context for")
    config.add_argument("--server", default="", help="API server URL of the cluster")
    config.add_argument("--cluster-ca", default=None, help="PEM file of the API server's CA (embedded)")
    config.add_argument("--context", default="", help="context name (default: <user>@<cluster-name>)")
    config.add_argument("--kubeconfig", type=Path, default=None,
                        help="file to merge into (default: first of $KUBECONFIG, else ~/.kube/config)")
    config.add_argument("--print", dest="print_only", action="store_true",
                        help="print the new entries as a kubeconfig instead of writing the file")
    config.set_defaults(func=run_kubeconfig)


def _add_login_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--issuer", required=True, help="issuer URL, exactly as in dexpy's config")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help=f"OAuth2 client (default: {DEFAULT_CLIENT_ID})")
    parser.add_argument("--client-secret", default="", help="client secret (none for a public client)")
    parser.add_argument("--scopes", default=" ".join(DEFAULT_SCOPES),
                        help=f"space- or comma-separated scopes (default: {' '.join(DEFAULT_SCOPES)})")
    parser.add_argument("--certificate-authority", default=None, help="PEM CA bundle that signed the issuer's cert")
    parser.add_argument("--device", action="store_true", help="use the device flow (RFC 8628) instead of a browser")


def _login_args(args: argparse.Namespace) -> list[str]:
    """The flags of `args` that `dexpy login` needs, defaults left out."""
    out = ["--issuer", args.issuer, "--client-id", args.client_id]
    if args.client_secret:
        out += ["--client-secret", args.client_secret]
    if _scopes(args.scopes) != DEFAULT_SCOPES:
        out += ["--scopes", " ".join(_scopes(args.scopes))]
    if args.certificate_authority:
        out += ["--certificate-authority", str(Path(args.certificate_authority).absolute())]
    if args.device:
        out.append("--device")
    return out


def _scopes(value: str) -> tuple[str, ...]:
    return tuple(value.replace(",", " ").split())


def open_system_browser(url: str) -> bool:
    """Launch a graphical browser; False when there is no display to show one on."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    return webbrowser.open(url)


def print_url(url: str) -> bool:
    say(f"open this URL in a browser on this machine to log in: {url}")
    return True


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point fd 1 at stderr meanwhile, so a launched browser cannot write into kubectl's ExecCredential."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run_login(args: argparse.Namespace) -> int:
    options = LoginOptions(
        issuer=args.issuer, client_id=args.client_id, client_secret=args.client_secret,
        scopes=_scopes(args.scopes), ca_file=args.certificate_authority, device=args.device,
        cache_dir=args.cache_dir or default_cache_dir(), browser_timeout=args.timeout)
    seams = Seams(open_browser=print_url if args.no_browser else open_system_browser)
    try:
        api_version = requested_api_version(os.environ.get("KUBERNETES_EXEC_INFO"))
        with stdout_to_stderr():
            token = get_id_token(options, seams)
    except UserError as exc:
        say(str(exc))
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    print(json.dumps(exec_credential(api_version, token.token, token.expiry), indent=2))
    return 0


def run_kubeconfig(args: argparse.Namespace) -> int:
    try:
        path = args.kubeconfig or kubeconfig.default_kubeconfig_path()
        existing = {} if args.print_only else kubeconfig.load(path)
        entries = _kubeconfig_entries(args, existing)
        if args.print_only:
            print(kubeconfig.dump(kubeconfig.merge({}, entries)), end="")
        else:
            kubeconfig.write(path, kubeconfig.merge(existing, entries))
            print(f"dexpy kubeconfig: wrote user {args.user!r} to {path}", file=sys.stderr)
    except UserError as exc:
        print(f"dexpy kubeconfig: {exc}", file=sys.stderr)
        return 1
    return 0


def _kubeconfig_entries(args: argparse.Namespace, existing: dict[str, Any]) -> kubeconfig.Entries:
    lists: dict[str, list[dict[str, Any]]] = {"users": [kubeconfig.exec_user(args.user, _login_args(args))]}
    if not args.cluster_name:
        return kubeconfig.Entries(lists)
    if args.server:
        lists["clusters"] = [kubeconfig.cluster(args.cluster_name, args.server, args.cluster_ca)]
    elif not kubeconfig.has_entry(existing, "clusters", args.cluster_name):
        raise UserError(f"cluster {args.cluster_name!r} is not in the kubeconfig: give its --server")
    context_name = args.context or f"{args.user}@{args.cluster_name}"
    lists["contexts"] = [kubeconfig.context(context_name, args.cluster_name, args.user)]
    return kubeconfig.Entries(lists, current_context=context_name)
