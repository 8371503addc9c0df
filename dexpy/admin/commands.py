"""The admin commands: each takes the parsed arguments and a stub, prints its result, returns an exit code.
Failures raise `AdminError`, which `register`'s wrapper prints as one line."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime, timezone
from typing import Any

import bcrypt

from dexpy.admin.output import emit
from dexpy.api import pb
from dexpy.oidc.wire import encode_subject

CLIENT_COLUMNS = ("id", "name", "public", "redirect_uris")
PASSWORD_COLUMNS = ("email", "username", "user_id")
REFRESH_COLUMNS = ("id", "client_id", "created_at", "last_used")
PASSWORD_HASH_COST = 10


class AdminError(Exception):
    pass


def _client_row(c: Any, *, with_secret: bool) -> dict[str, Any]:
    row = {"id": c.id, "name": c.name, "public": c.public, "redirect_uris": list(c.redirect_uris),
           "trusted_peers": list(c.trusted_peers), "logo_url": c.logo_url,
           "allowed_connectors": list(c.allowed_connectors)}
    if with_secret:
        row["secret"] = c.secret
    return row


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def client_add(args: argparse.Namespace, stub: Any) -> int:
    client = pb.Client(id=args.id or "", secret=args.secret or "", name=args.name or "", public=args.public,
                       redirect_uris=args.redirect_uri, trusted_peers=args.trusted_peer,
                       allowed_connectors=args.allowed_connector, logo_url=args.logo_url or "")
    resp = stub.CreateClient(pb.CreateClientReq(client=client), timeout=args.timeout)
    if resp.already_exists:
        raise AdminError(f"client {args.id!r} already exists")
    emit([_client_row(resp.client, with_secret=True)], (*CLIENT_COLUMNS, "secret"), args.output, sys.stdout,
         single=True)
    return 0


def client_list(args: argparse.Namespace, stub: Any) -> int:
    clients = stub.ListClients(pb.ListClientReq(), timeout=args.timeout).clients
    emit([_client_row(c, with_secret=False) for c in clients], CLIENT_COLUMNS, args.output, sys.stdout)
    return 0


def client_update(args: argparse.Namespace, stub: Any) -> int:
    req = pb.UpdateClientReq(id=args.id, name=args.name or "", redirect_uris=args.redirect_uri,
                             trusted_peers=args.trusted_peer, allowed_connectors=args.allowed_connector,
                             logo_url=args.logo_url or "")
    if stub.UpdateClient(req, timeout=args.timeout).not_found:
        raise AdminError(f"client {args.id!r} not found")
    print(f"client {args.id} updated")
    return 0


def client_delete(args: argparse.Namespace, stub: Any) -> int:
    if stub.DeleteClient(pb.DeleteClientReq(id=args.id), timeout=args.timeout).not_found:
        raise AdminError(f"client {args.id!r} not found")
    print(f"client {args.id} deleted")
    return 0


def _password_hash(args: argparse.Namespace) -> bytes:
    if args.hash:
        return str(args.hash).encode()
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.email}: ")
    if not password:
        raise AdminError("empty password")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(PASSWORD_HASH_COST))


def password_add(args: argparse.Namespace, stub: Any) -> int:
    password = pb.Password(email=args.email, hash=_password_hash(args), username=args.username or "",
                           user_id=args.user_id)
    if stub.CreatePassword(pb.CreatePasswordReq(password=password), timeout=args.timeout).already_exists:
        raise AdminError(f"password for {args.email!r} already exists")
    print(f"password for {args.email} created")
    return 0


def password_list(args: argparse.Namespace, stub: Any) -> int:
    passwords = stub.ListPasswords(pb.ListPasswordReq(), timeout=args.timeout).passwords
    rows = [{"email": p.email, "username": p.username, "user_id": p.user_id} for p in passwords]
    emit(rows, PASSWORD_COLUMNS, args.output, sys.stdout)
    return 0


def password_delete(args: argparse.Namespace, stub: Any) -> int:
    if stub.DeletePassword(pb.DeletePasswordReq(email=args.email), timeout=args.timeout).not_found:
        raise AdminError(f"password for {args.email!r} not found")
    print(f"password for {args.email} deleted")
    return 0


def _subject(args: argparse.Namespace) -> str:
    """USER as the API wants it: the ID token's `sub`, or built from a plain user id and `--connector`."""
    return encode_subject(args.user, args.connector) if args.connector else str(args.user)


def refresh_list(args: argparse.Namespace, stub: Any) -> int:
    refs = stub.ListRefresh(pb.ListRefreshReq(user_id=_subject(args)), timeout=args.timeout).refresh_tokens
    rows = [{"id": r.id, "client_id": r.client_id, "created_at": _stamp(r.created_at), "last_used": _stamp(r.last_used)}
            for r in refs]
    emit(rows, REFRESH_COLUMNS, args.output, sys.stdout)
    return 0


def refresh_revoke(args: argparse.Namespace, stub: Any) -> int:
    req = pb.RevokeRefreshReq(user_id=_subject(args), client_id=args.client)
    if stub.RevokeRefresh(req, timeout=args.timeout).not_found:
        raise AdminError(f"no refresh token of that user for client {args.client!r}")
    print(f"refresh token for client {args.client} revoked")
    return 0
