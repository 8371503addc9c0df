"""`dexpy kubeconfig`: a user entry running `dexpy login`, and optionally a cluster and a context, merged in place."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dexpy.kube.credential import API_V1
from dexpy.kube.errors import UserError
from dexpy.kube.files import write_atomic

ENTRY_LISTS = ("clusters", "contexts", "users")


def default_kubeconfig_path() -> Path:
    """The first file of $KUBECONFIG, as kubectl writes to it, else ~/.kube/config."""
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first) if first else Path.home() / ".kube" / "config"


@dataclass(frozen=True)
class Entries:
    """The named entries to put into a kubeconfig: {"users": [{"name": …, "user": …}], …}."""

    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    current_context: str = ""


def exec_user(name: str, login_args: list[str], command: str = "dexpy") -> dict[str, Any]:
    return {"name": name, "user": {"exec": {
        "apiVersion": API_V1, "command": command, "args": ["login", *login_args],
        "interactiveMode": "IfAvailable", "provideClusterInfo": False}}}


def cluster(name: str, server: str, ca_file: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"server": server}
    if ca_file:
        try:
            pem = Path(ca_file).read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read cluster CA {ca_file}: {exc.strerror}") from None
        if b"-----BEGIN CERTIFICATE-----" not in pem:
            raise UserError(f"cluster CA {ca_file} holds no PEM certificate")
        spec["certificate-authority-data"] = base64.b64encode(pem).decode("ascii")
    return {"name": name, "cluster": spec}


def context(name: str, cluster_name: str, user_name: str) -> dict[str, Any]:
    return {"name": name, "context": {"cluster": cluster_name, "user": user_name}}


def load(path: Path) -> dict[str, Any]:
    """The kubeconfig at `path`, or an empty one when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise UserError(f"{path} is not a kubeconfig (a mapping is expected)")
    return config


def has_entry(config: dict[str, Any], list_name: str, name: str) -> bool:
    return any(isinstance(e, dict) and e.get("name") == name for e in config.get(list_name) or [])


def merge(config: dict[str, Any], entries: Entries) -> dict[str, Any]:
    """A copy of `config` with each entry replacing the one of the same name; all other entries kept."""
    merged = {"apiVersion": "v1", "kind": "Config", "preferences": {}, **config}
    for list_name in ENTRY_LISTS:
        new = entries.lists.get(list_name, [])
        names = {e["name"] for e in new}
        kept = [e for e in merged.get(list_name) or [] if not (isinstance(e, dict) and e.get("name") in names)]
        merged[list_name] = kept + new
    if entries.current_context and not merged.get("current-context"):
        merged["current-context"] = entries.current_context
    return merged


def dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


def write(path: Path, config: dict[str, Any]) -> None:
    """Replace the file atomically, keeping its mode (0600 for a new one: it may hold credentials)."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    try:
        write_atomic(path, dump(config), mode=mode)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
