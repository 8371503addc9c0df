"""Bad input to `dexpy login`: one line on stderr, a non-zero exit, nothing on stdout, the cache untouched."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dexpy.kube.cache import CachedTokens, TokenCache
from tests.fixtures.slapd import free_port
from tests.kube.conftest import CliResult, HttpsIssuer, run_cli
from tests.kube.tokens import fake_id_token


def assert_one_line_failure(result: CliResult, *fragments: str) -> None:
    assert result.code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dexpy login: ")
    for fragment in fragments:
        assert fragment in lines[0]


def login(issuer: str, cache: Path, *extra: str) -> CliResult:
    return run_cli("login", "--issuer", issuer, "--cache-dir", str(cache), "--no-browser", *extra)


def test_unreachable_issuer(tmp_path: Path) -> None:
    issuer = f"https://127.0.0.1:{free_port()}/dex"
    assert_one_line_failure(login(issuer, tmp_path), "cannot reach", issuer)


def test_issuer_signed_by_another_ca(https_issuer: HttpsIssuer, tmp_path: Path) -> None:
    result = login(https_issuer.url, tmp_path, "--certificate-authority", str(https_issuer.other_ca_file))
    assert_one_line_failure(result, "cannot reach", "CERTIFICATE_VERIFY_FAILED")


def test_issuer_not_trusted_by_the_system_store(https_issuer: HttpsIssuer, tmp_path: Path) -> None:
    assert_one_line_failure(login(https_issuer.url, tmp_path), "CERTIFICATE_VERIFY_FAILED")


@pytest.mark.parametrize("content", [None, b"not a certificate\n"])
def test_unusable_ca_file(https_issuer: HttpsIssuer, tmp_path: Path, content: bytes | None) -> None:
    ca = tmp_path / "bad-ca.pem"
    if content is not None:
        ca.write_bytes(content)
    assert_one_line_failure(login(https_issuer.url, tmp_path / "cache", "--certificate-authority", str(ca)),
                            f"cannot load certificate authority {ca}")


def test_wrong_issuer_url(https_issuer: HttpsIssuer, tmp_path: Path) -> None:
    ca = str(https_issuer.ca_file)
    assert_one_line_failure(login(https_issuer.url, tmp_path, "--certificate-authority", ca),
                            "issuer mismatch", "https://elsewhere.example/dex")
    assert_one_line_failure(login(https_issuer.url + "/nope", tmp_path, "--certificate-authority", ca),
                            "HTTP 404")


def test_failed_login_keeps_the_cache_file_intact(tmp_path: Path) -> None:
    issuer = f"https://127.0.0.1:{free_port()}/dex"
    cache = TokenCache(tmp_path)
    expired = fake_id_token(datetime.now(timezone.utc) - timedelta(hours=1))
    cache.save(CachedTokens(issuer, "kubectl", expired, "refresh"))
    path = cache.path_for(issuer, "kubectl")
    before = path.read_bytes()
    assert_one_line_failure(login(issuer, tmp_path), "cannot reach")
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_valid_cached_token_needs_no_network(tmp_path: Path) -> None:
    issuer = f"https://127.0.0.1:{free_port()}/dex"  # nothing listens: any request would fail
    expiry = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    token = fake_id_token(expiry)
    TokenCache(tmp_path).save(CachedTokens(issuer, "kubectl", token, "refresh"))
    result = login(issuer, tmp_path)
    assert (result.code, result.stderr) == (0, "")
    credential = json.loads(result.stdout)
    assert credential["status"] == {"token": token, "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_bad_kubernetes_exec_info(tmp_path: Path) -> None:
    result = run_cli("login", "--issuer", "https://127.0.0.1:1/dex", "--cache-dir", str(tmp_path),
                     env={"KUBERNETES_EXEC_INFO": '{"apiVersion": "client.authentication.k8s.io/v1alpha1"}'})
    assert_one_line_failure(result, "v1alpha1")


def test_malformed_issuer_url(tmp_path: Path) -> None:
    assert_one_line_failure(login("http://[::1", tmp_path), "cannot reach", "http://[::1")
