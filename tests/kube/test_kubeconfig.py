from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import kubernetes
import pytest
import yaml

from dexpy.kube.cache import CachedTokens, TokenCache
from tests.fixtures.pki import make_pki
from tests.kube.conftest import install_dexpy_command, run_cli
from tests.kube.tokens import fake_id_token

ISSUER = "https://dex.example.com:32000/dex"

EXISTING = {
    "apiVersion": "v1", "kind": "Config", "current-context": "admin@prod",
    "clusters": [{"name": "prod", "cluster": {"server": "https://old.example:6443"}},
                 {"name": "lab", "cluster": {"server": "https://lab.example:6443"}}],
    "users": [{"name": "admin", "user": {"token": "admin-token"}}],
    "contexts": [{"name": "admin@prod", "context": {"cluster": "prod", "user": "admin"}}],
}


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    path = tmp_path / "kube" / "config"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(EXISTING))
    path.chmod(0o640)
    return path


def by_name(config: dict, list_name: str) -> dict[str, dict]:
    return {e["name"]: e for e in config[list_name]}


def test_merge_keeps_other_entries_and_the_current_context(existing: Path, tmp_path: Path) -> None:
    ca = tmp_path / "cluster-ca.pem"
    ca.write_bytes(make_pki().ca_pem)
    result = run_cli("kubeconfig", "--issuer", ISSUER, "--cluster-name", "prod", "--server", "https://new.example:6443",
                     "--cluster-ca", str(ca), "--kubeconfig", str(existing))
    assert result.code == 0, result.stderr
    config = yaml.safe_load(existing.read_text())
    assert config["current-context"] == "admin@prod"
    assert by_name(config, "users")["admin"] == EXISTING["users"][0]
    assert by_name(config, "clusters")["lab"] == EXISTING["clusters"][1]
    assert by_name(config, "clusters")["prod"]["cluster"]["server"] == "https://new.example:6443"
    assert by_name(config, "contexts")["dexpy@prod"]["context"] == {"cluster": "prod", "user": "dexpy"}
    assert by_name(config, "users")["dexpy"]["user"]["exec"] == {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "dexpy",
        "args": ["login", "--issuer", ISSUER, "--client-id", "kubectl"],
        "interactiveMode": "IfAvailable", "provideClusterInfo": False}
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    assert sorted(p.name for p in existing.parent.iterdir()) == ["config"]


def test_rerun_replaces_rather_than_duplicates(existing: Path) -> None:
    for client in ("kubectl", "other"):
        assert run_cli("kubeconfig", "--issuer", ISSUER, "--client-id", client, "--cluster-name", "lab",
                       "--kubeconfig", str(existing)).code == 0
    config = yaml.safe_load(existing.read_text())
    assert [u["name"] for u in config["users"]] == ["admin", "dexpy"]
    assert by_name(config, "users")["dexpy"]["user"]["exec"]["args"][-1] == "other"
    assert by_name(config, "clusters")["lab"] == EXISTING["clusters"][1]


def test_kubernetes_client_runs_the_plugin_from_the_written_kubeconfig(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole chain: file → kubernetes.config → `dexpy login` → ExecCredential → bearer token."""
    path = tmp_path / "new" / "config"
    result = run_cli("kubeconfig", "--issuer", ISSUER, "--cluster-name", "prod", "--server", "https://k.example:6443",
                     "--scopes", "openid,groups", "--kubeconfig", str(path))
    assert result.code == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = fake_id_token(datetime.now(timezone.utc) + timedelta(hours=1))
    TokenCache(tmp_path / "xdg" / "dexpy").save(CachedTokens(ISSUER, "kubectl", token))
    install_dexpy_command(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    client_config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(path), client_configuration=client_config)
    assert client_config.host == "https://k.example:6443"
    assert f"Bearer {token}" in client_config.api_key.values()


def test_kubectl_reads_the_written_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "config"
    assert run_cli("kubeconfig", "--issuer", ISSUER, "--cluster-name", "prod", "--server", "https://k.example:6443",
                   "--kubeconfig", str(path)).code == 0
    shown = subprocess.run(["kubectl", "config", "view", "--kubeconfig", str(path), "--minify", "-o", "json"],
                           capture_output=True, text=True, check=True)
    view = json.loads(shown.stdout)
    assert view["current-context"] == "dexpy@prod"
    assert view["users"][0]["user"]["exec"]["command"] == "dexpy"


def test_print_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config"
    result = run_cli("kubeconfig", "--issuer", ISSUER, "--print", "--kubeconfig", str(path))
    assert result.code == 0
    assert yaml.safe_load(result.stdout)["users"][0]["name"] == "dexpy"
    assert not path.exists()


@pytest.mark.parametrize(("content", "args", "reason"), [
    ("clusters: [oops", [], "not valid YAML"),
    ("- a list", [], "not a kubeconfig"),
    (yaml.safe_dump(EXISTING), ["--cluster-name", "missing"], "give its --server"),
    (yaml.safe_dump(EXISTING), ["--cluster-name", "x", "--server", "https://x", "--cluster-ca", "/nonexistent.pem"],
     "cannot read cluster CA"),
])
def test_bad_input_leaves_the_file_alone(tmp_path: Path, content: str, args: list[str], reason: str) -> None:
    path = tmp_path / "config"
    path.write_text(content)
    result = run_cli("kubeconfig", "--issuer", ISSUER, "--kubeconfig", str(path), *args)
    assert result.code == 1
    assert result.stderr.count("\n") == 1 and reason in result.stderr and "Traceback" not in result.stderr
    assert path.read_text() == content
