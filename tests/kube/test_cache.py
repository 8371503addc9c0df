from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dexpy.kube.cache import CachedTokens, TokenCache, default_cache_dir
from dexpy.kube.files import write_atomic


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_tokens_are_private_and_read_back(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "dexpy")
    tokens = CachedTokens("https://dex.example/dex", "kubectl", "id.token.sig", "refresh-1")
    cache.save(tokens)
    path = cache.path_for(tokens.issuer, tokens.client_id)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert cache.load("https://dex.example/dex", "kubectl") == tokens


def test_entries_are_per_issuer_and_client(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path)
    cache.save(CachedTokens("https://a.example", "kubectl", "token-a"))
    cache.save(CachedTokens("https://a.example", "other", "token-b"))
    cache.save(CachedTokens("https://b.example", "kubectl", "token-c"))
    assert [cache.load(i, c).id_token for i, c in [("https://a.example", "kubectl"), ("https://a.example", "other"),
                                                    ("https://b.example", "kubectl")]] == ["token-a", "token-b", "token-c"]
    assert cache.load("https://c.example", "kubectl") is None


def test_a_group_readable_cache_dir_is_tightened(tmp_path: Path) -> None:
    (tmp_path / "tokens").mkdir(mode=0o755)
    TokenCache(tmp_path).save(CachedTokens("https://a.example", "kubectl", "t"))
    assert mode(tmp_path / "tokens") == 0o700


@pytest.mark.parametrize("content", ["", "{not json", '{"issuer": "https://a.example"}', "[]"])
def test_a_damaged_file_reads_as_empty(tmp_path: Path, content: str) -> None:
    cache = TokenCache(tmp_path)
    path = cache.path_for("https://a.example", "kubectl")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert cache.load("https://a.example", "kubectl") is None


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path)
    cache.save(CachedTokens("https://a.example", "kubectl", "old"))
    path = cache.path_for("https://a.example", "kubectl")
    before = path.read_bytes()
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, '{"id_token": "\ud800"}')  # a lone surrogate fails half-way through the write
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_default_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "dexpy"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "dexpy"
