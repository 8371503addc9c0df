"""`dexpy client|password|refresh …`: manage a running dexpy through its gRPC API (Dex's `api.Dex`).

    dexpy client add --id my-app --redirect-uri https://app.example/callback
    dexpy password list -o json
    dexpy refresh revoke <sub> --client my-app

`register(subparsers)` adds the commands to the `dexpy` command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import grpc

from dexpy.admin import commands as c
from dexpy.admin.channel import add_connection_options, connect

Command = Callable[[argparse.Namespace, Any], int]


def _run(command: Command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args, connect(args))
        except c.AdminError as exc:
            print(f"dexpy: {exc}", file=sys.stderr)
        except grpc.RpcError as exc:
            code = exc.code()
            print(f"dexpy: {code.name.lower()}: {exc.details()}", file=sys.stderr)
        except OSError as exc:
            print(f"dexpy: {exc}", file=sys.stderr)
        return 1

    return run


def _common() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    add_connection_options(parent)
    return parent


def _verbs(sub: Any, noun: str, help_text: str) -> Any:
    parser = sub.add_parser(noun, help=help_text)
    return parser.add_subparsers(dest=f"{noun}_command", required=True, metavar="COMMAND")


def _client_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="display name")
    parser.add_argument("--redirect-uri", action="append", default=[], help="allowed redirect URI (repeatable)")
    parser.add_argument("--trusted-peer", action="append", default=[], help="client that may mint tokens for this one")
    parser.add_argument("--allowed-connector", action="append", default=[], help="restrict logins to these connectors")
    parser.add_argument("--logo-url", help="logo shown on the approval page")


def register(subparsers: Any) -> None:
    common = _common()

    clients = _verbs(subparsers, "client", "manage OAuth2 clients")
    add = clients.add_parser("add", parents=[common], help="create a client (prints its secret)")
    add.add_argument("--id", help="client id (default: generated)")
    add.add_argument("--secret", help="client secret (default: generated unless --public)")
    add.add_argument("--public", action="store_true", help="a public client (no secret)")
    _client_fields(add)
    add.set_defaults(func=_run(c.client_add))
    clients.add_parser("list", parents=[common], help="list clients").set_defaults(func=_run(c.client_list))
    update = clients.add_parser("update", parents=[common], help="change a client (given fields only)")
    update.add_argument("id")
    _client_fields(update)
    update.set_defaults(func=_run(c.client_update))
    delete = clients.add_parser("delete", parents=[common], help="delete a client")
    delete.add_argument("id")
    delete.set_defaults(func=_run(c.client_delete))

    passwords = _verbs(subparsers, "password", "manage the password database")
    add = passwords.add_parser("add", parents=[common], help="add a user to the password database")
    add.add_argument("email")
    add.add_argument("--user-id", required=True, help="the user's stable id")
    add.add_argument("--username", help="display name")
    source = add.add_mutually_exclusive_group()
    source.add_argument("--hash", help="a bcrypt hash (cost 10..16) instead of a password")
    source.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=_run(c.password_add))
    passwords.add_parser("list", parents=[common], help="list users").set_defaults(func=_run(c.password_list))
    delete = passwords.add_parser("delete", parents=[common], help="remove a user")
    delete.add_argument("email")
    delete.set_defaults(func=_run(c.password_delete))

    refresh = _verbs(subparsers, "refresh", "list and revoke users' refresh tokens")
    for verb, func, text in (("list", c.refresh_list, "list a user's refresh tokens"),
                             ("revoke", c.refresh_revoke, "revoke a user's refresh token for one client")):
        parser = refresh.add_parser(verb, parents=[common], help=text)
        parser.add_argument("user", help="the ID token's `sub`, or a plain user id with --connector")
        parser.add_argument("--connector", help="the connector USER logged in with (then USER is a plain id)")
        if verb == "revoke":
            parser.add_argument("--client", required=True, help="the client whose token to revoke")
        parser.set_defaults(func=_run(func))
